"""Simulated execution: running tasks take steps by themselves, paused ones freeze."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from tasklife.server.testing import LiveServer

from .conftest import BOTH_DATABASES

ServerFactory = Callable[..., LiveServer]
STEP = 0.01


def view(http: httpx.Client, task_id: str) -> Any:
    return http.get(f"/api/v1/task/{task_id}").json()


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    interval = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, "condition not reached before the deadline"
        interval.wait(0.005)  # the poll interval


def run(http: httpx.Client, **fields: object) -> str:
    task_id: str = http.post("/api/v1/run-task", json={"task": "tick", **fields}).json()["id"]
    return task_id


@BOTH_DATABASES
class TestTicker:
    def test_running_task_takes_steps(self, server_factory: ServerFactory, api_key: str) -> None:
        """A running task's step counter grows without any request moving it."""
        with server_factory(step_seconds=STEP).client(api_key) as http:
            task_id = run(http)
            wait_until(lambda: len(view(http, task_id)["steps"]) >= 3)

    def test_task_finishes_at_its_step_limit(
        self, server_factory: ServerFactory, api_key: str
    ) -> None:
        """A task finishes after exactly max_agent_steps steps, with an output."""
        with server_factory(step_seconds=STEP).client(api_key) as http:
            task_id = run(http, max_agent_steps=3)
            wait_until(lambda: view(http, task_id)["status"] == "finished")
            final = view(http, task_id)
        assert len(final["steps"]) == 3
        assert final["output"]
        assert final["finished_at"] is not None

    def test_paused_task_freezes(self, server_factory: ServerFactory, api_key: str) -> None:
        """While paused the step counter stands still, as another task keeps stepping."""
        with server_factory(step_seconds=STEP).client(api_key) as http:
            frozen, witness = run(http), run(http)
            http.put("/api/v1/pause-task", params={"task_id": frozen})
            paused_at = len(view(http, frozen)["steps"])
            start = len(view(http, witness)["steps"])
            wait_until(lambda: len(view(http, witness)["steps"]) >= start + 5)
            assert len(view(http, frozen)["steps"]) == paused_at

    def test_resume_continues_from_the_same_step(
        self, server_factory: ServerFactory, api_key: str
    ) -> None:
        """After resume the counter goes on from where it was paused, never back."""
        with server_factory(step_seconds=STEP).client(api_key) as http:
            task_id = run(http)
            wait_until(lambda: len(view(http, task_id)["steps"]) >= 2)
            http.put("/api/v1/pause-task", params={"task_id": task_id})
            paused_at = len(view(http, task_id)["steps"])
            http.put("/api/v1/resume-task", params={"task_id": task_id})
            wait_until(lambda: len(view(http, task_id)["steps"]) > paused_at)
            steps = view(http, task_id)["steps"]
        assert [s["step"] for s in steps] == list(range(1, len(steps) + 1))

    def test_manual_mode_has_no_ticker(self, live_server: LiveServer, api_key: str) -> None:
        """With step_seconds=0 no ticker thread runs; only the emulator endpoints move tasks."""
        with live_server.client(api_key) as http:
            task_id = run(http)
            assert not [t for t in threading.enumerate() if t.name == "tasklife-ticker"]
            http.post(f"/emulator/v1/task/{task_id}/advance", params={"steps": 2})
            assert len(view(http, task_id)["steps"]) == 2

    def test_one_ticker_for_many_tasks(self, server_factory: ServerFactory, api_key: str) -> None:
        """However many tasks run, the app keeps one ticker thread."""
        with server_factory(step_seconds=STEP).client(api_key) as http:
            for _ in range(5):
                run(http)
            tickers = [t for t in threading.enumerate() if t.name == "tasklife-ticker"]
        assert len(tickers) == 1
