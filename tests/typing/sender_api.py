"""tasklife.service's webhook sender used as a backend would; type-checked by mypy, never run."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tasklife.service import Attempt, DeadLetter, Deliveries, WebhookSender
from tasklife.store import SQLiteTaskStore
from tasklife.store.drivers import SQLTransaction


def metadata(tx: SQLTransaction, task_id: str) -> Mapping[str, Any] | None:
    """The payload's metadata of a task, read in the consuming transaction."""
    return {"task": task_id}


def send(path: str) -> None:
    with SQLiteTaskStore(path) as store:
        sender = WebhookSender(
            store, "https://backend.example/hooks", "whsec_x", failed_as="failed",
            delays=(1, 5, 30), timeout=5.0, lease=60.0, workers=2, batch=4, metadata=metadata,
        )  # fmt: skip
        read: int = sender.consume()
        attempts: list[Attempt] = sender.deliver()
        for attempt in attempts:
            due: datetime | None = attempt.next_at
            print(read, attempt.outcome, attempt.status_code, attempt.problem, due)
        letters: list[DeadLetter] = sender.dead_letters(limit=10)
        queued: int = sender.replay([letter.id for letter in letters])
        print(queued, sender.pending())
        with sender:  # consumes and delivers in background threads until the block ends
            pass
        queue = Deliveries(store)
        print(queue.replay(), queue.dead_letters(after=0))
