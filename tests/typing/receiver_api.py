"""The webhook receiver and its router as a backend uses them: type-checked, not run."""

from __future__ import annotations

from fastapi import FastAPI

from tasklife import ObservationOutcome, ReconcileConflict, Task, TransitionRecord
from tasklife.server import webhook_router
from tasklife.service import Receipt, WebhookReceiver, attach_from, ignore_unknown
from tasklife.store import SQLiteTaskStore
from tasklife.transports import InMemoryTransport
from tasklife.webhooks import StatusUpdateEvent


def hook(event: StatusUpdateEvent) -> Task | None:
    """An ``unknown_task`` hook of the backend's own."""
    return None if event.task_id.startswith("x") else Task(event.task_id)


def backend(body: bytes, headers: dict[str, str]) -> int:
    store = SQLiteTaskStore("tasks.sqlite3")
    remote = InMemoryTransport()
    receiver = WebhookReceiver(store, ["new", "old"], refresh=remote, unknown_task=hook)
    WebhookReceiver(store, "secret", unknown_task=attach_from(remote))
    WebhookReceiver(store, "secret", unknown_task=ignore_unknown)
    receipt: Receipt = receiver.receive(body, headers)
    outcome: ObservationOutcome = receipt.outcome
    records: tuple[TransitionRecord, ...] = receipt.records
    conflict: ReconcileConflict | None = receipt.conflict
    task_id: str | None = receipt.task_id
    print(outcome, records, conflict, task_id, receipt.detail, receipt.refreshed)
    app = FastAPI()
    app.include_router(webhook_router(receiver, path="/hooks"))
    return 200
