"""``tasklife demo``: one task driven through a real local server, every transition printed.

The demo starts the v1-compatible server in-process (uvicorn in a background thread) on a free
loopback port, over a temporary SQLite file, with a random key. It then drives one task through
the project's transport (``BrowserUseTransport`` and a remote-first ``RemoteTask``), exactly as
a client of the real API would: run -> pause -> resume -> stop -> resume. The last resume is
refused (a stopped task can never be resumed): the local guard refuses it before any request
is sent, and the server, asked anyway, answers 409 with the same message. Finally it prints
the task's history as the client recorded it and checks the server's status agrees.

The server also sends a webhook for every change of the task (``WebhookSender``) to a local
receiver (``webhook_app`` over a ``WebhookReceiver`` with a store of its own, served on
another loopback port). The history table shows, beside each transition, the event the
receiver verified and what it did with it; the demo checks the receiver's copy of the task
agrees with the server too.
"""

from __future__ import annotations

import contextlib
import secrets
import tempfile
import textwrap
import threading
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, Final, TextIO

from tasklife.errors import InvalidTransition
from tasklife.lifecycle import Action
from tasklife.server import DEFAULT_WEBHOOK_PATH, BackgroundServer, create_app, webhook_app
from tasklife.service import Receipt, WebhookReceiver, WebhookSender
from tasklife.store import SQLiteTaskStore
from tasklife.task import Task, TransitionRecord
from tasklife.transports import ActionRefused, RemoteTask
from tasklife.transports.http import BrowserUseTransport
from tasklife.webhooks import StatusUpdateEvent, TestEvent

__all__ = ["history_table", "run_demo"]

WEBHOOK_WAIT: Final = 15.0
"""Seconds the demo waits for the receiver to have every event (they take milliseconds)."""


def history_table(
    records: tuple[TransitionRecord, ...], receipts: Sequence[Receipt] | None = None
) -> str:
    """The records as an aligned plain-text table, one row per transition.

    Given the ``receipts`` of a webhook receiver, each row also shows the event that reported
    the transition (matched in order by status) and the receiver's outcome.
    """
    header: tuple[str, ...] = ("seq", "action", "from", "to", "origin", "at (UTC)")
    rows = [header] + [
        (
            str(r.seq),
            r.action.value,
            r.source.value,
            r.dest.value,
            r.origin,
            r.at.strftime("%H:%M:%S.%f")[:-3],
        )
        for r in records
    ]
    if receipts is not None:
        used: set[int] = set()
        events = [_event_of(record, receipts, used) for record in records]
        rows = [(*header, "webhook (verified)", "receiver")] + [
            (*row, *event) for row, event in zip(rows[1:], events, strict=True)
        ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def _event_of(
    record: TransitionRecord, receipts: Sequence[Receipt], used: set[int]
) -> tuple[str, str]:
    """The first unused receipt of an event reporting ``record``'s status: (word, outcome)."""
    for index, receipt in enumerate(receipts):
        event = receipt.event
        if (
            index not in used
            and isinstance(event, StatusUpdateEvent)
            and event.status is record.dest
        ):
            used.add(index)
            return event.remote_status, receipt.outcome.value
    return "-", "-"


def _created_as_of(event: StatusUpdateEvent) -> Task:
    return Task(event.task_id, created_at=event.timestamp)


class _Inbox(WebhookReceiver):
    """The demo's receiver: a ``WebhookReceiver`` that keeps every receipt to print."""

    def __init__(self, store: SQLiteTaskStore, secret: str) -> None:
        # The sender and this receiver share one clock, so events need no skew allowance:
        # a pause a few milliseconds after the start is newer, not stale. A task first heard
        # of is created as of its event, not as of its arrival (which may come later).
        super().__init__(store, secret, skew=timedelta(0), unknown_task=_created_as_of)
        self.receipts: list[Receipt] = []
        self._lock = threading.Lock()

    def receive(self, body: Any, headers: Any) -> Receipt:
        receipt = super().receive(body, headers)
        with self._lock:
            self.receipts.append(receipt)
        return receipt

    def wait_for(self, task: Task) -> bool:
        """Wait (polling, up to ``WEBHOOK_WAIT``) until the event of ``task``'s status came."""
        deadline = time.monotonic() + WEBHOOK_WAIT
        pause = threading.Event()
        while not any(
            isinstance(r.event, StatusUpdateEvent)
            and r.event.task_id == task.id
            and r.event.status is task.status
            for r in list(self.receipts)
        ):
            if time.monotonic() > deadline:
                return False
            pause.wait(0.01)  # the poll interval, not a synchronisation
        return True


def _indent(text: str) -> str:
    return textwrap.fill(text, width=96, initial_indent=" " * 10, subsequent_indent=" " * 10)


def run_demo(out: TextIO) -> int:
    """Run the demo, writing to ``out``; returns the exit status (0 when all went as shown)."""
    key = secrets.token_urlsafe(24)
    secret = secrets.token_urlsafe(24)
    with contextlib.ExitStack() as on_exit:
        folder = on_exit.enter_context(tempfile.TemporaryDirectory(prefix="tasklife-demo-"))
        store = on_exit.enter_context(SQLiteTaskStore(Path(folder) / "demo.sqlite3"))
        mirror = on_exit.enter_context(SQLiteTaskStore(Path(folder) / "receiver.sqlite3"))
        inbox = _Inbox(mirror, secret)
        receiver = on_exit.enter_context(BackgroundServer(webhook_app(inbox), ready_path=None))
        server = on_exit.enter_context(BackgroundServer(create_app(store, key, step_seconds=0)))
        url = f"{receiver.base_url}{DEFAULT_WEBHOOK_PATH}"
        sender = WebhookSender(store, url, secret)
        sender.send_test()
        on_exit.enter_context(sender)  # delivers from background threads until the end
        print(
            f"tasklife demo: a local Browser Use v1-compatible server on {server.base_url}\n"
            f"(temporary SQLite file, random API key), sending signed webhooks to a local\n"
            f"receiver on {url}\n",
            file=out,
        )
        transport = on_exit.enter_context(BrowserUseTransport(key, base_url=server.base_url))
        return _drive(transport, store, inbox, out)


def _drive(
    transport: BrowserUseTransport, store: SQLiteTaskStore, inbox: _Inbox, out: TextIO
) -> int:
    def say(step: str, text: str) -> None:
        print(f"{step:<7} {text}", file=out)

    def show(task: Task, record: TransitionRecord) -> None:
        who = "reported by the server" if record.origin == "remote" else "accepted by the server"
        say(record.action.value, f"{record.source} -> {record.dest}  ({who})")

    run = RemoteTask.create(transport, "Find the cheapest flight to Lisbon")
    task = run.task
    say("run", f"POST /api/v1/run-task -> {task.id}")
    for record in task.history:  # what create() caught up on: the server started it
        show(task, record)
    task.subscribe(show)
    run.pause()
    run.resume()
    run.stop()
    try:
        run.resume()
    except InvalidTransition as error:
        say("resume", f"refused locally, before any request was sent ({type(error).__name__}):")
        print(_indent(str(error)), file=out)
    else:
        say("resume", "was NOT refused: this is a bug")
        return 1
    try:
        transport.push(task.id, Action.RESUME)
    except ActionRefused as error:
        say("", f"and the server, asked anyway, answers {error.status_code}:")
        print(_indent(str(error.detail)), file=out)
    else:
        say("", "and the server, asked anyway, accepted it: this is a bug")
        return 1

    arrived = inbox.wait_for(task)
    print(
        f"\nHistory of {task.id} (status {task.status}, version {task.version}), beside the\n"
        "webhook events the receiver verified and what it did with each:",
        file=out,
    )
    print(history_table(task.history, inbox.receipts), file=out)
    tests = sum(isinstance(r.event, TestEvent) for r in inbox.receipts)
    print(f"(and {tests} test event, verified and ignored: nothing to apply)", file=out)
    remote = transport.get_status(task.id)
    with store.transaction() as tx:
        stored = tx.load(task.id).task
    server_history = [(r.action, r.dest) for r in stored.history]
    same = remote is task.status and server_history == [(r.action, r.dest) for r in task.history]
    print(
        f"\nThe server agrees: the task is {remote}, and its stored history holds the same "
        f"{len(server_history)} transitions."
        if same
        else f"\nThe server disagrees ({remote}, {server_history}): this is a bug.",
        file=out,
    )
    with inbox.store.transaction() as copy:
        mirrored = copy.load(task.id).task if arrived else None
    agrees = mirrored is not None and mirrored.status is remote
    print(
        f"The receiver's copy agrees: the task is {remote} there too, from the webhooks alone."
        if agrees
        else "The receiver's copy disagrees with the server: this is a bug.",
        file=out,
    )
    return 0 if same and agrees else 1
