"""``tasklife demo``: one task driven through a real local server, every transition printed.

The demo starts the v1-compatible server in-process (uvicorn in a background thread) on a free
loopback port, over a temporary SQLite file, with a random key. It then drives one task through
the project's transport (``BrowserUseTransport`` and a remote-first ``RemoteTask``), exactly as
a client of the real API would: run -> pause -> resume -> stop -> resume. The last resume is
refused (a stopped task can never be resumed): the local guard refuses it before any request
is sent, and the server, asked anyway, answers 409 with the same message. Finally it prints
the task's history as the client recorded it and checks the server's status agrees.
"""

from __future__ import annotations

import secrets
import tempfile
import textwrap
from pathlib import Path
from typing import TextIO

from tasklife.errors import InvalidTransition
from tasklife.lifecycle import Action
from tasklife.server import BackgroundServer, create_app
from tasklife.store import SQLiteTaskStore
from tasklife.task import Task, TransitionRecord
from tasklife.transports import ActionRefused, RemoteTask
from tasklife.transports.http import BrowserUseTransport

__all__ = ["history_table", "run_demo"]


def history_table(records: tuple[TransitionRecord, ...]) -> str:
    """The records as an aligned plain-text table, one row per transition."""
    header = ("seq", "action", "from", "to", "origin", "at (UTC)")
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
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def _indent(text: str) -> str:
    return textwrap.fill(text, width=96, initial_indent=" " * 10, subsequent_indent=" " * 10)


def run_demo(out: TextIO) -> int:
    """Run the demo, writing to ``out``; returns the exit status (0 when all went as shown)."""
    key = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="tasklife-demo-") as folder:
        store = SQLiteTaskStore(Path(folder) / "demo.sqlite3")
        try:
            app = create_app(store, key, step_seconds=0)
            with BackgroundServer(app) as server:
                print(
                    f"tasklife demo: a local Browser Use v1-compatible server on "
                    f"{server.base_url}\n(temporary SQLite file, random API key)\n",
                    file=out,
                )
                with BrowserUseTransport(key, base_url=server.base_url) as transport:
                    return _drive(transport, store, out)
        finally:
            store.close()


def _drive(transport: BrowserUseTransport, store: SQLiteTaskStore, out: TextIO) -> int:
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

    print(f"\nHistory of {task.id} (status {task.status}, version {task.version}):", file=out)
    print(history_table(task.history), file=out)
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
    return 0 if same else 1
