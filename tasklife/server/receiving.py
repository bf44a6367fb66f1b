"""``webhook_router``: a mountable FastAPI router that receives Browser Use webhooks.

The router is a thin HTTP shell over a ``tasklife.service`` receiver (``WebhookReceiver``, run
in the thread pool, or ``AsyncWebhookReceiver``, awaited). Answers:

- 200 for every verified delivery, whatever its outcome (applied, duplicate, stale, ignored,
  conflict), so that the sender stops retrying; the body is the receipt in JSON;
- 401 for a missing, unreadable or wrong signature, or one signed too long ago;
- 400 for a body that is not a webhook envelope (too large, not JSON, missing fields);
- 503 when the store could not be written (the sender's retry will apply the event).

The body is read up to the receiver's ``max_body_bytes`` and no further.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from tasklife.errors import InvalidArgument
from tasklife.service import AsyncWebhookReceiver, Receipt, WebhookReceiver
from tasklife.store import StoreError
from tasklife.webhooks import MalformedWebhook, StatusUpdateEvent, WebhookError

__all__ = ["DEFAULT_WEBHOOK_PATH", "receipt_json", "webhook_app", "webhook_router"]

DEFAULT_WEBHOOK_PATH: Final = "/webhooks/browser-use"
"""Where ``webhook_router`` receives deliveries unless told otherwise."""


def receipt_json(receipt: Receipt) -> dict[str, Any]:
    """The JSON answer for a receipt: outcome, detail, event type, task id, records."""
    event = receipt.event
    return {
        "outcome": receipt.outcome.value,
        "detail": receipt.detail,
        "type": event.type,
        "task_id": event.task_id if isinstance(event, StatusUpdateEvent) else None,
        "digest": event.digest,
        "records": [record.to_dict() for record in receipt.records],
        "refreshed": receipt.refreshed,
        "attached": receipt.attached,
    }


def webhook_router(
    receiver: WebhookReceiver | AsyncWebhookReceiver, *, path: str = DEFAULT_WEBHOOK_PATH
) -> APIRouter:
    """An ``APIRouter`` answering ``POST path`` with ``receiver`` (mount it on any app)."""
    given: tuple[object, object] = (receiver, path)
    if not isinstance(given[0], WebhookReceiver | AsyncWebhookReceiver):
        raise InvalidArgument("receiver", "must be a WebhookReceiver or an AsyncWebhookReceiver")
    if not isinstance(given[1], str) or not path.startswith("/"):
        raise InvalidArgument("path", "must be a path starting with '/'")
    router = APIRouter()
    limit = receiver.max_body_bytes

    async def receive(request: Request) -> JSONResponse:
        try:
            body = await _read(request, limit)
            headers = request.headers.raw
            if isinstance(receiver, AsyncWebhookReceiver):
                receipt = await receiver.receive(body, headers)
            else:
                receipt = await run_in_threadpool(receiver.receive, body, headers)
        except MalformedWebhook as error:
            return JSONResponse({"detail": str(error)}, status_code=400)
        except WebhookError as error:  # InvalidSignature, WebhookTooOld
            return JSONResponse({"detail": str(error)}, status_code=401)
        except StoreError as error:
            detail = f"the event could not be stored ({type(error).__name__}); retry later"
            return JSONResponse({"detail": detail}, status_code=503)
        except ClientDisconnect:
            return JSONResponse({"detail": "the client disconnected"}, status_code=400)
        return JSONResponse(receipt_json(receipt))

    router.add_api_route(
        path, receive, methods=["POST"], summary="Receive a Browser Use webhook",
        response_class=JSONResponse,
    )  # fmt: skip
    return router


def webhook_app(
    receiver: WebhookReceiver | AsyncWebhookReceiver, *, path: str = DEFAULT_WEBHOOK_PATH
) -> FastAPI:
    """A FastAPI app that only receives webhooks (``webhook_router`` mounted): a receiver run
    as a service of its own, or in a test or a demo."""
    app = FastAPI(title="tasklife webhook receiver")
    app.include_router(webhook_router(receiver, path=path))
    return app


async def _read(request: Request, limit: int) -> bytes:
    """The request's body, or ``MalformedWebhook`` once it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise MalformedWebhook("body", f"is more than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
