"""A restart (same database, new app instance) keeps every task and its full history, on a
SQLite file and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tasklife.server.testing import LiveServer

from .conftest import BOTH_DATABASES

ServerFactory = Callable[..., LiveServer]


def prepare(server: LiveServer, key: str) -> str:
    """Create a task, take 4 steps, pause it; return its id."""
    with server.client(key) as http:
        task_id: str = http.post(
            "/api/v1/run-task", json={"task": "survive", "metadata": {"k": "v"}}
        ).json()["id"]
        http.post(f"/emulator/v1/task/{task_id}/advance", params={"steps": 4})
        http.put("/api/v1/pause-task", params={"task_id": task_id})
    return task_id


@BOTH_DATABASES
class TestRestart:
    @pytest.mark.parametrize(
        "path",
        ["/api/v1/task/{}", "/emulator/v1/task/{}/history"],
        ids=["task-view", "history"],
    )
    def test_survives(self, server_factory: ServerFactory, api_key: str, path: str) -> None:
        """The v1 view, and every transition record with its time and origin, survive."""
        first = server_factory()
        task_id = prepare(first, api_key)
        with first.client(api_key) as http:
            before = http.get(path.format(task_id)).json()
        first.stop()
        second = server_factory()  # on the same database
        with second.client(api_key) as http:
            assert http.get(path.format(task_id)).json() == before

    def test_resume_continues_after_restart(
        self, server_factory: ServerFactory, api_key: str
    ) -> None:
        """A task paused before the restart resumes after it, from the same step."""
        first = server_factory()
        task_id = prepare(first, api_key)
        first.stop()
        second = server_factory()  # on the same database
        with second.client(api_key) as http:
            assert http.put("/api/v1/resume-task", params={"task_id": task_id}).status_code == 200
            view = http.get(f"/api/v1/task/{task_id}").json()
            history = http.get(f"/emulator/v1/task/{task_id}/history").json()
        assert (view["status"], len(view["steps"])) == ("running", 4)
        assert [r["action"] for r in history["history"]] == ["start", "pause", "resume"]

    def test_ownership_survives(
        self, server_factory: ServerFactory, api_key: str, other_key: str
    ) -> None:
        """After a restart another key still gets 404 for the task."""
        first = server_factory()
        task_id = prepare(first, api_key)
        first.stop()
        second = server_factory()  # on the same database
        with second.client(other_key) as http:
            assert http.get(f"/api/v1/task/{task_id}").status_code == 404
