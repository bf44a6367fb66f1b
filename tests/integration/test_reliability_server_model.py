"""The server and its SQLite store against an in-memory model of the lifecycle.

Hypothesis drives random sequences of HTTP commands (run, pause, resume, stop, status,
advance, finish, fail, an unknown id, and restarting the server on the same SQLite file)
against a real server on 127.0.0.1. After every command the server's statuses, step counts,
versions and histories (read back over HTTP) must equal the model's, and a refused command
must leave the task exactly as it was.

Default run: 12 sequences of up to 25 commands; ``--hypothesis-profile=deep``: 300.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from strategies import REFERENCE_TABLE, REFERENCE_TERMINAL

from tasklife.server.testing import LiveServer

KEY = "tl-model-key-4d2c"
DEEP = settings().max_examples >= 1000
EXAMPLES = 300 if DEEP else 12
STEPS = 40 if DEEP else 25
MAX_TASKS = 4


@attrs.define
class ModelTask:
    """What one task on the server should look like."""

    max_steps: int
    status: str = "running"
    steps: int = 0
    history: list[tuple[str, str, str, str | None]] = attrs.Factory(
        lambda: [("start", "created", "running", None)]
    )

    def move(self, action: str, reason: str | None = None) -> None:
        dest = REFERENCE_TABLE[self.status, action]
        self.history.append((action, self.status, dest, reason))
        self.status = dest


class ServerModel(RuleBasedStateMachine):
    """One server on one SQLite file, restarted at random; a dict of model tasks."""

    def __init__(self) -> None:
        super().__init__()
        # One server (and file) for all sequences: each sequence only looks at its own tasks.
        if "server" not in SHARED:
            folder = Path(tempfile.mkdtemp(prefix="tasklife-model-"))
            SHARED["folder"] = folder
            SHARED["server"] = LiveServer.start(folder / "tasks.sqlite3", api_keys=[KEY])
        self.server: LiveServer = SHARED["server"]
        self.db = self.server.db
        self.http = self.server.client(KEY)
        self.tasks: dict[str, ModelTask] = {}
        self.requests = 0
        self.restarts = 0

    def call(self, method: str, url: str, **options: Any) -> httpx.Response:
        self.requests += 1
        response: httpx.Response = self.http.request(method, url, **options)
        assert response.status_code != 500, response.text
        return response

    def remote(self, task_id: str) -> dict[str, Any]:
        response = self.call("GET", f"/emulator/v1/task/{task_id}/history")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def expect(self, response: httpx.Response, task_id: str, ok: bool, before: Any) -> None:
        """200 when the model accepted the command; else 409 and the task is unchanged."""
        if ok:
            assert response.status_code == 200, response.text
        else:
            assert response.status_code == 409, response.text
            assert self.remote(task_id) == before

    @precondition(lambda self: len(self.tasks) < MAX_TASKS)
    @rule(max_steps=st.integers(1, 6))
    def run_task(self, max_steps: int) -> None:
        response = self.call(
            "POST", "/api/v1/run-task", json={"task": "model", "max_agent_steps": max_steps}
        )
        assert response.status_code == 200, response.text
        self.tasks[response.json()["id"]] = ModelTask(max_steps)

    @precondition(lambda self: bool(self.tasks))
    @rule(data=st.data(), action=st.sampled_from(["pause", "resume", "stop"]))
    def act(self, data: st.DataObject, action: str) -> None:
        task_id = data.draw(st.sampled_from(sorted(self.tasks)))
        model = self.tasks[task_id]
        before = self.remote(task_id)
        response = self.call("PUT", f"/api/v1/{action}-task", params={"task_id": task_id})
        noop = action == "stop" and model.status in REFERENCE_TERMINAL
        ok = noop or (model.status, action) in REFERENCE_TABLE
        self.expect(response, task_id, ok, before)
        if ok and not noop:
            model.move(action)
        if noop:
            assert self.remote(task_id) == before

    @precondition(lambda self: bool(self.tasks))
    @rule(data=st.data(), steps=st.integers(1, 4))
    def advance(self, data: st.DataObject, steps: int) -> None:
        task_id = data.draw(st.sampled_from(sorted(self.tasks)))
        model = self.tasks[task_id]
        before = self.remote(task_id)
        response = self.call(
            "POST", f"/emulator/v1/task/{task_id}/advance", params={"steps": steps}
        )
        self.expect(response, task_id, model.status == "running", before)
        if model.status == "running":
            model.steps = min(model.max_steps, model.steps + steps)
            if model.steps >= model.max_steps:
                model.move("finish")

    @precondition(lambda self: bool(self.tasks))
    @rule(data=st.data(), reason=st.none() | st.text("abc xyz", max_size=8))
    def finish_or_fail(self, data: st.DataObject, reason: str | None) -> None:
        task_id = data.draw(st.sampled_from(sorted(self.tasks)))
        model = self.tasks[task_id]
        action = data.draw(st.sampled_from(["finish", "fail"]))
        before = self.remote(task_id)
        params = {} if reason is None or action == "finish" else {"reason": reason}
        response = self.call("POST", f"/emulator/v1/task/{task_id}/{action}", params=params)
        ok = (model.status, action) in REFERENCE_TABLE
        self.expect(response, task_id, ok, before)
        if ok:
            model.move(action, params.get("reason"))

    @precondition(lambda self: bool(self.tasks))
    @rule(data=st.data())
    def status(self, data: st.DataObject) -> None:
        task_id = data.draw(st.sampled_from(sorted(self.tasks)))
        response = self.call("GET", f"/api/v1/task/{task_id}/status")
        assert (response.status_code, response.json()) == (200, self.tasks[task_id].status)
        view = self.call("GET", f"/api/v1/task/{task_id}").json()
        assert len(view["steps"]) == self.tasks[task_id].steps

    @rule(action=st.sampled_from(["pause", "resume", "stop"]))
    def unknown_task(self, action: str) -> None:
        response = self.call("PUT", f"/api/v1/{action}-task", params={"task_id": "task_missing"})
        assert response.status_code == 404

    @rule(dice=st.integers(0, 5))
    def restart(self, dice: int) -> None:
        if dice != 5:  # restarting costs ~0.2 s: roughly one draw in six (0 is drawn most)
            return
        self.restarts += 1
        self.http.close()
        self.server.stop()
        self.server = SHARED["server"] = LiveServer.start(self.db, api_keys=[KEY])
        self.http = self.server.client(KEY)

    @invariant()
    def server_agrees_with_model(self) -> None:
        for task_id, model in self.tasks.items():
            body = self.remote(task_id)
            history = [(r["action"], r["source"], r["dest"], r["reason"]) for r in body["history"]]
            assert (body["status"], body["steps"], history) == (
                model.status,
                model.steps,
                model.history,
            )
            assert body["version"] == len(body["history"])
            assert [r["seq"] for r in body["history"]] == list(range(1, body["version"] + 1))

    def teardown(self) -> None:
        self.http.close()
        STATS["sequences"] += 1
        STATS["requests"] += self.requests
        STATS["restarts"] += self.restarts
        STATS["tasks"] += len(self.tasks)
        STATS["records"] += sum(len(t.history) for t in self.tasks.values())


SHARED: dict[str, Any] = {}
STATS: Counter[str] = Counter()


@pytest.fixture(autouse=True, scope="module")
def _shared_server() -> Iterator[None]:
    """Stop the sequences' shared server when the module is done."""
    yield
    if "server" in SHARED:
        SHARED.pop("server").stop()
        shutil.rmtree(SHARED.pop("folder"), ignore_errors=True)


@pytest.fixture(autouse=True)
def _figures(record_property: Callable[[str, object], None]) -> Iterator[None]:
    """Attach what the sequences did to the test's report (bench/reliability_server.py reads it)."""
    STATS.clear()
    yield
    record_property("server model", dict(STATS))


ServerModel.TestCase.settings = settings(
    max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None
)


class TestServerModel(ServerModel.TestCase):  # type: ignore[misc,valid-type]
    """Random HTTP command sequences with restarts: the server and the model always agree."""
