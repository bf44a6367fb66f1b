"""The mirror test: a backend mirrors a server's tasks from a chaotic webhook stream.

``tasklife serve`` (a real process, simulated execution) sends a webhook for every status
change; a ``ChaosProxy`` (tests/webhook_proxy.py) reorders, duplicates and drops them on their
way to a ``webhook_router`` (uvicorn on 127.0.0.1) whose ``WebhookReceiver`` applies them to
the backend's own tasks in a SQLite file. Meanwhile a client pauses, resumes, stops and fails
the server's tasks. Then:

- at no time did a local task hold a transition the server never made: every record the
  backend's store ever wrote (its change feed) that is not marked ``inferred`` reached a
  status the server's task reached, at the time the server recorded it;
- every delivery the proxy forwarded was answered 200;
- after one final refresh of each task (read the server's view, observe it, converge with
  ``Task.from_remote`` + ``replace`` on a conflict), every local task agrees with the server.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from webhook_proxy import ChaosProxy

from tasklife import Observation, ObservationOutcome, Task, TaskStatus
from tasklife.server import DEFAULT_WEBHOOK_PATH, BackgroundServer, webhook_app
from tasklife.service import WebhookReceiver
from tasklife.store import Change, SQLiteTaskStore, TaskNotStored, transact
from tasklife.webhooks import sign, status_update_envelope

KEY = "mirror-key-3c9e71"
SECRET = "whsec_mirror_SENTINEL_8d2f"
TASKS = 16
DEADLINE = 90.0
TERMINAL_WORDS = {"stopped", "finished", "failed"}


def _serve_sends_webhooks() -> bool:
    command = [sys.executable, "-m", "tasklife", "serve", "--help"]
    helped = subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)
    return "--webhook-url" in helped.stdout


def _poll(condition: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
    """Wait until ``condition()`` holds (polled), failing with ``what`` after the deadline."""
    give_up = time.monotonic() + deadline
    pause = threading.Event()
    while not condition():
        assert time.monotonic() < give_up, f"timed out waiting for {what}"
        pause.wait(0.05)  # the poll interval, not a synchronisation


class Backend:
    """The backend: a SQLite task store and a receiver served by uvicorn on 127.0.0.1."""

    def __init__(self, db: Path) -> None:
        self.store = SQLiteTaskStore(db)
        receiver = WebhookReceiver(
            self.store, SECRET, unknown_task=lambda e: Task(e.task_id, created_at=e.timestamp)
        )
        self.server = BackgroundServer(webhook_app(receiver), ready_path=None).start()
        self.url = f"{self.server.base_url}{DEFAULT_WEBHOOK_PATH}"

    def feed(self) -> list[Change]:
        """Every change the backend's store ever wrote, oldest first."""
        changes: list[Change] = []
        while batch := self.store.changes(changes[-1].cursor if changes else None, 1000):
            changes.extend(batch)
        return changes

    def task(self, task_id: str) -> Task | None:
        try:
            with self.store.transaction() as tx:
                task: Task = tx.load(task_id).task
        except TaskNotStored:
            return None
        return task

    def close(self) -> None:
        self.server.stop()
        self.store.close()


class Server:
    """``tasklife serve`` as a process, sending webhooks to ``url``.

    Until ``serve`` can send webhooks itself (``--webhook-url``), a small sender in this test
    stands in: it reads each task's history from the emulator endpoint and posts one signed
    event per new record, in order.
    """

    def __init__(self, tmp_path: Path, url: str) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "tasklife", "serve", "--port", str(port),
                   "--db", str(tmp_path / "server.sqlite3"), "--step-seconds", "0.05"]  # fmt: skip
        self.own_sender = not _serve_sends_webhooks()
        if not self.own_sender:
            command += ["--webhook-url", url, "--webhook-failed-status", "failed"]
        env = {**os.environ, "TASKLIFE_API_KEY": KEY, "TASKLIFE_WEBHOOK_SECRET": SECRET}
        self.log = tmp_path / "serve.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        self.http = httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=10
        )
        _poll(self._ready, "tasklife serve to answer", 30)
        self.ids: list[str] = []
        self._sent: dict[str, int] = {}
        self._stop = threading.Event()
        self._sender = threading.Thread(target=self._send_loop, args=(url,), daemon=True)
        if self.own_sender:
            self._sender.start()

    def _ready(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()
        try:
            return self.http.get("/api/v1/ping").status_code == 200
        except httpx.TransportError:
            return False

    def history(self, task_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.http.get(f"/emulator/v1/task/{task_id}/history").json()
        return answer

    def _send_loop(self, url: str) -> None:
        with httpx.Client(timeout=10) as out:
            while not self._stop.wait(0.02):
                for task_id in list(self.ids):
                    records = self.history(task_id)["history"]
                    for record in records[self._sent.get(task_id, 0) :]:
                        at = datetime.fromisoformat(record["at"])
                        envelope = status_update_envelope(
                            task_id, record["dest"], at=at, failed_as="failed"
                        )
                        headers = sign(envelope, SECRET, timestamp=datetime.now(UTC))
                        out.post(url, content=json.dumps(envelope), headers=headers)
                    self._sent[task_id] = len(records)

    def close(self) -> str:
        self._stop.set()
        if self._sender.is_alive():
            self._sender.join(timeout=10)
        self.http.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.log.read_text()


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    opened = Backend(tmp_path / "backend.sqlite3")
    yield opened
    opened.close()


@pytest.fixture
def proxy(backend: Backend) -> Iterator[ChaosProxy]:
    with ChaosProxy(backend.url, seed=13, drop=0.1, duplicate=0.25, hold=4) as started:
        yield started


@pytest.fixture
def server(tmp_path: Path, proxy: ChaosProxy) -> Iterator[Server]:
    started = Server(tmp_path, proxy.url)
    yield started
    log = started.close()
    assert SECRET not in log


def drive(server: Server) -> None:
    """Create tasks and act on them as clients do, in a seeded random order."""
    chance = random.Random(7)
    for n in range(TASKS):
        answer = server.http.post(
            "/api/v1/run-task",
            json={"task": f"mirror {n}", "max_agent_steps": chance.randint(4, 16)},
        )
        assert answer.status_code == 200, answer.text
        server.ids.append(answer.json()["id"])
    moves = [(task_id, move) for task_id in server.ids
             for move in chance.choices(["pause", "resume", "stop", "fail"], k=4)]  # fmt: skip
    chance.shuffle(moves)
    for task_id, move in moves:
        if move == "fail":
            server.http.post(f"/emulator/v1/task/{task_id}/fail", params={"reason": "mirror"})
        else:
            server.http.put(f"/api/v1/{move}-task", params={"task_id": task_id})
    for task_id in server.ids:  # a task left paused would never end: stop it
        server.http.put("/api/v1/stop-task", params={"task_id": task_id})


def received_terminal(proxy: ChaosProxy, ids: list[str]) -> bool:
    """True once the proxy has received each task's terminal event."""
    ended = set()
    for delivery in list(proxy.received):
        payload = json.loads(delivery.body).get("payload", {})
        if payload.get("status") in TERMINAL_WORDS:
            ended.add(payload.get("task_id"))
    return ended >= set(ids)


def final_refresh(backend: Backend, server: Server, task_id: str) -> None:
    """Read the server's view of a task and bring the local task to it."""
    view = server.http.get(f"/api/v1/task/{task_id}").json()
    status, steps = TaskStatus(view["status"]), len(view["steps"])
    now = datetime.now(UTC)
    if backend.task(task_id) is None:  # every event of it was dropped
        with backend.store.transaction() as tx:
            tx.add(Task.from_remote(task_id, status, at=now, steps=steps))
        return
    seen = Observation(status, now, steps=steps)
    outcome = transact(backend.store, task_id, lambda t: t.observe(seen, skew=timedelta(0)))
    if outcome.result.outcome is ObservationOutcome.CONFLICT:
        with backend.store.transaction() as tx:
            rebuilt = Task.from_remote(task_id, status, at=now, steps=steps)
            tx.replace(rebuilt, token=tx.load(task_id).token)


class TestMirror:
    def test_backend_mirrors_the_server_through_a_chaotic_stream(
        self, backend: Backend, proxy: ChaosProxy, server: Server
    ) -> None:
        """Reordered, duplicated, dropped webhooks never make up a transition; one refresh
        of each task then brings every local task to the server's status."""
        drive(server)
        _poll(lambda: all(server.history(t)["status"] in TERMINAL_WORDS for t in server.ids),
              "every server task to end")  # fmt: skip
        _poll(lambda: received_terminal(proxy, server.ids), "every task's terminal event")
        proxy.settle()
        # The stream was chaotic, and the receiver answered every delivery 200.
        assert proxy.dropped
        assert proxy.duplicated
        assert proxy.reordered
        assert {code for _, code in proxy.forwarded} == {200}
        kinds = {json.loads(delivery.body)["type"] for delivery in proxy.received}
        assert kinds == ({"agent.task.status_update"} if server.own_sender else
                         {"agent.task.status_update", "test"})  # fmt: skip

        server_records = {
            (task_id, record["dest"], datetime.fromisoformat(record["at"]))
            for task_id in server.ids
            for record in server.history(task_id)["history"]
        }
        seen = [
            change
            for change in backend.feed()
            if change.kind == "record" and not change.data["inferred"]
        ]
        assert seen  # the check below is not vacuous
        made_up = [
            (change.task_id, change.data)
            for change in seen
            if (change.task_id, change.data["dest"],
                datetime.fromisoformat(change.data["remote_at"])) not in server_records
        ]  # fmt: skip
        assert made_up == []

        for task_id in server.ids:
            final_refresh(backend, server, task_id)
        local = {t: backend.task(t) for t in server.ids}
        remote = {t: server.history(t) for t in server.ids}
        assert {t: task.status.value for t, task in local.items() if task} == {
            t: view["status"] for t, view in remote.items()
        }
