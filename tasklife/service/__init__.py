"""The server's service layer: its use cases, tables, ticker and webhook sender, without a web
framework.

``TaskService`` holds the use cases (run a task, act on it, read it, page through an owner's
tasks, the emulator's advance/finish/fail, the simulated execution's ``tick``) over a SQL task
store of ``tasklife.store``; each is one transaction of the store, in which the task and the
service's own row (``tasklife.service.tables``) commit together, retried from a fresh load when
another writer got there first. ``Ticker`` drives the simulated execution. ``WebhookSender``
delivers the store's change feed as signed Browser Use webhooks, at least once
(``tasklife.service.sender``), from a queue kept in the store's database
(``tasklife.service.deliveries``). ``WebhookReceiver`` / ``AsyncWebhookReceiver`` apply
verified webhook deliveries to the tasks of any ``tasklife.store`` store
(``tasklife.service.receiver``; ``tasklife.server.webhook_router`` is their HTTP face).
Nothing here imports FastAPI, Starlette, pydantic or uvicorn: ``tasklife.server`` is the HTTP
entry point on top of it, and any other host (a worker, a test, another framework) can call
the same use cases directly.
"""

from typing import TYPE_CHECKING, Any

from tasklife.service.deliveries import DEFAULT_DELAYS, DeadLetter, Deliveries
from tasklife.service.receiver import (
    AsyncRemoteReader,
    AsyncUnknownTask,
    AsyncWebhookReceiver,
    Receipt,
    RemoteReader,
    UnknownTask,
    WebhookReceiver,
    async_attach_from,
    attach_from,
    ignore_unknown,
)
from tasklife.service.tables import SERVICE, Tables
from tasklife.service.tasks import (
    ServiceTask,
    TaskService,
    check_text,
    new_task_id,
)
from tasklife.service.ticker import Ticker

if TYPE_CHECKING:
    from tasklife.service.sender import (
        DEFAULT_TIMEOUT,
        MAX_ANSWER_BYTES,
        Attempt,
        WebhookSender,
        checked_secret,
    )

__all__ = [
    "DEFAULT_DELAYS",
    "DEFAULT_TIMEOUT",
    "MAX_ANSWER_BYTES",
    "SERVICE",
    "AsyncRemoteReader",
    "AsyncUnknownTask",
    "AsyncWebhookReceiver",
    "Attempt",
    "DeadLetter",
    "Deliveries",
    "Receipt",
    "RemoteReader",
    "ServiceTask",
    "Tables",
    "TaskService",
    "Ticker",
    "UnknownTask",
    "WebhookReceiver",
    "WebhookSender",
    "async_attach_from",
    "attach_from",
    "check_text",
    "checked_secret",
    "ignore_unknown",
    "new_task_id",
]

_SENDER = frozenset(
    {"DEFAULT_TIMEOUT", "MAX_ANSWER_BYTES", "Attempt", "WebhookSender", "checked_secret"}
)


def __getattr__(name: str) -> Any:
    """Import the webhook sender on first use: it posts with httpx (the ``http`` extra)."""
    if name in _SENDER:
        from tasklife.service import sender  # noqa: PLC0415 - optional dependency

        return getattr(sender, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
