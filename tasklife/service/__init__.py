"""The server's service layer: its use cases, conflict retry and ticker, without a web framework.

``TaskService`` holds the use cases (run a task, act on it, read it, page through an owner's
tasks, the emulator's advance/finish/fail) over a ``tasklife.store`` store; every state change
is a ``tasklife.Task`` action on a task loaded from the store and saved back, retried from a
fresh load when another writer got there first. ``Ticker`` drives the simulated execution.
Nothing here imports FastAPI, Starlette, pydantic or uvicorn: ``tasklife.server`` is the HTTP
entry point on top of it, and any other host (a worker, a test, another framework) can call
the same use cases directly.

``WebhookReceiver`` / ``AsyncWebhookReceiver`` apply verified webhook deliveries to the tasks of
a ``tasklife.store`` store (``tasklife.server.webhook_router`` is their HTTP face).
"""

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
from tasklife.service.tasks import (
    DEFAULT_LLM_MODEL,
    DEFAULT_MAX_AGENT_STEPS,
    MAX_AGENT_STEPS_LIMIT,
    MAX_METADATA_PAIRS,
    TaskNotFound,
    TaskService,
    check_text,
    new_task_id,
)
from tasklife.service.ticker import Ticker

__all__ = [
    "DEFAULT_LLM_MODEL",
    "DEFAULT_MAX_AGENT_STEPS",
    "MAX_AGENT_STEPS_LIMIT",
    "MAX_METADATA_PAIRS",
    "AsyncRemoteReader",
    "AsyncUnknownTask",
    "AsyncWebhookReceiver",
    "Receipt",
    "RemoteReader",
    "TaskNotFound",
    "TaskService",
    "Ticker",
    "UnknownTask",
    "WebhookReceiver",
    "async_attach_from",
    "attach_from",
    "check_text",
    "ignore_unknown",
    "new_task_id",
]
