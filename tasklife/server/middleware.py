"""``RequestGuard``: one pure ASGI layer that refuses oversized bodies and logs each request.

Pure ASGI (not Starlette's ``BaseHTTPMiddleware``) so a request pays two function calls, not a
task and a stream. The log line holds the method, the path (without the query string), the
status and the time taken; never a header, so never the API key.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DEFAULT_MAX_BODY_BYTES", "RequestGuard"]

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""Request bodies larger than this (1 MiB) are refused with 413."""

log = logging.getLogger("tasklife.server.access")


def _too_large(limit: int) -> dict[str, Any]:
    return {"detail": f"Request body too large: the limit is {limit} bytes"}


class RequestGuard:
    """Refuse request bodies over ``max_body_bytes`` (413); log one line per request."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, access_log: bool) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self.access_log:
            await self._guarded(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before it answers

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._guarded(scope, receive, send_and_note)
        finally:
            log.info(
                "%s %s %d %.1fms",
                scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - started) * 1000,
            )

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.max_body_bytes
        declared: int | None = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = None
                break
        if declared is not None and declared > limit:
            await _answer(send, 413, _too_large(limit))
            return
        if declared is not None:
            await self.app(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, _too_large(limit)["detail"])
            return message

        await self.app(scope, counted, send)


async def _answer(send: Send, status: int, body: dict[str, Any]) -> None:
    content = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(content)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})
