"""The server's service layer: its use cases, conflict retry and ticker, without a web framework.

``TaskService`` holds the use cases (run a task, act on it, read it, page through an owner's
tasks, the emulator's advance/finish/fail) over a ``tasklife.store`` store; every state change
is a ``tasklife.Task`` action on a task loaded from the store and saved back, retried from a
fresh load when another writer got there first. ``Ticker`` drives the simulated execution.
Nothing here imports FastAPI, Starlette, pydantic or uvicorn: ``tasklife.server`` is the HTTP
entry point on top of it, and any other host (a worker, a test, another framework) can call
the same use cases directly. ``WebhookSender`` delivers the store's change feed as signed
Browser Use webhooks, at least once (``tasklife.service.sender``), from a queue kept in the
store's database (``tasklife.service.deliveries``).
"""

from tasklife.service.deliveries import DEFAULT_DELAYS, DeadLetter, Deliveries
from tasklife.service.sender import (
    DEFAULT_TIMEOUT,
    MAX_ANSWER_BYTES,
    Attempt,
    WebhookSender,
    checked_secret,
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
    "DEFAULT_DELAYS",
    "DEFAULT_LLM_MODEL",
    "DEFAULT_MAX_AGENT_STEPS",
    "DEFAULT_TIMEOUT",
    "MAX_AGENT_STEPS_LIMIT",
    "MAX_ANSWER_BYTES",
    "MAX_METADATA_PAIRS",
    "Attempt",
    "DeadLetter",
    "Deliveries",
    "TaskNotFound",
    "TaskService",
    "Ticker",
    "WebhookSender",
    "check_text",
    "checked_secret",
    "new_task_id",
]
