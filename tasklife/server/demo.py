"""``tasklife demo``: one task driven through a real local server, every transition printed.

The demo starts the v1-compatible server in-process (uvicorn in a background thread) on a free
loopback port, over a temporary SQLite file, with a random key. It then drives one task as a
client would: run -> pause -> resume -> stop -> resume. The last resume is refused (a stopped
task can never be resumed): the local guard refuses it before any request is sent, and the
server, asked anyway, answers 409 with the same message. Finally it prints the task's history
as the client recorded it, and checks that the server recorded the same transitions.
"""

from __future__ import annotations

import secrets
import tempfile
import textwrap
from pathlib import Path
from typing import TextIO

import httpx

from tasklife.errors import InvalidTransition
from tasklife.lifecycle import Action, TaskStatus
from tasklife.server.app import create_app
from tasklife.server.runner import BackgroundServer
from tasklife.store import SQLiteTaskStore
from tasklife.task import Task, TransitionRecord

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


class _Client:
    """Remote-first actions over v1 HTTP: the local guard, then the remote, then the commit."""

    def __init__(self, http: httpx.Client, task: Task) -> None:
        self.http = http
        self.task = task

    def act(self, action: Action) -> None:
        prepared = self.task.prepare(action)  # raises before any request if the table refuses
        response = self.http.put(f"/api/v1/{action.value}-task", params={"task_id": self.task.id})
        response.raise_for_status()
        if prepared is not None:
            self.task.commit(prepared, origin="local")


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
                headers = {"Authorization": f"Bearer {key}"}
                with httpx.Client(base_url=server.base_url, headers=headers) as http:
                    return _drive(http, out)
        finally:
            store.close()


def _drive(http: httpx.Client, out: TextIO) -> int:
    def say(step: str, text: str) -> None:
        print(f"{step:<7} {text}", file=out)

    def show(task: Task, record: TransitionRecord) -> None:
        who = "by the server" if record.origin == "remote" else "accepted by the server"
        say(record.action.value, f"{record.source} -> {record.dest}  ({who})")

    response = http.post("/api/v1/run-task", json={"task": "Find the cheapest flight to Lisbon"})
    response.raise_for_status()
    task = Task(response.json()["id"])
    task.subscribe(show)
    say("run", f"POST /api/v1/run-task -> {task.id}")
    remote = http.get(f"/api/v1/task/{task.id}/status").json()
    task.reconcile(TaskStatus(remote))
    client = _Client(http, task)
    for action in (Action.PAUSE, Action.RESUME, Action.STOP):
        client.act(action)
    try:
        client.act(Action.RESUME)
    except InvalidTransition as error:
        say("resume", f"refused locally, before any request was sent ({type(error).__name__}):")
        print(_indent(str(error)), file=out)
    else:
        say("resume", "was NOT refused: this is a bug")
        return 1
    answer = http.put("/api/v1/resume-task", params={"task_id": task.id})
    say("", f"and the server, asked anyway, answers {answer.status_code}:")
    print(_indent(answer.json()["detail"]), file=out)

    print(f"\nHistory of {task.id} (status {task.status}, version {task.version}):", file=out)
    print(history_table(task.history), file=out)
    server_history = http.get(f"/emulator/v1/task/{task.id}/history").json()["history"]
    same = [(r["action"], r["dest"]) for r in server_history] == [
        (r.action.value, r.dest.value) for r in task.history
    ]
    print(
        "\nThe server's own history "
        + ("matches, transition for transition." if same else "DIFFERS: this is a bug."),
        file=out,
    )
    return 0 if same and answer.status_code == 409 else 1
