"""The server's service layer: its use cases, tables and ticker, without a web framework.

``TaskService`` holds the use cases (run a task, act on it, read it, page through an owner's
tasks, the emulator's advance/finish/fail, the simulated execution's ``tick``) over a SQL task
store of ``tasklife.store``; each is one transaction of the store, in which the task and the
service's own row (``tasklife.service.tables``) commit together, retried from a fresh load when
another writer got there first. ``Ticker`` drives the simulated execution. Nothing here imports
FastAPI, Starlette, pydantic or uvicorn: ``tasklife.server`` is the HTTP entry point on top of
it, and any other host (a worker, a test, another framework) can call the same use cases.
"""

from tasklife.service.tables import SERVICE, Tables
from tasklife.service.tasks import (
    ServiceTask,
    TaskService,
    check_text,
    new_task_id,
)
from tasklife.service.ticker import Ticker

__all__ = [
    "SERVICE",
    "ServiceTask",
    "Tables",
    "TaskService",
    "Ticker",
    "check_text",
    "new_task_id",
]
