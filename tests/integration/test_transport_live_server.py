"""The sync and async transports against the project's own server (``create_app`` under uvicorn).

The server is ``shared_server`` from this folder's conftest: ``tasklife.server.testing.
LiveServer`` on a free 127.0.0.1 port in a background thread, ready once ``/api/v1/ping``
answers (polled with a deadline, never a blind sleep), stopped at the end of the session.
The ``/emulator/v1`` endpoints play the remote's part (steps, finish, fail).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from integration.transport_kit import Kit, make_kit
from tasklife import CannotResumeStoppedTask, ReconcileConflict, TaskStatus
from tasklife.lifecycle import Action
from tasklife.server.testing import LiveServer
from tasklife.transports import ActionRefused, AuthError, TaskNotFound, TaskView


@pytest.fixture(params=["sync", "async"])
def kit(request: pytest.FixtureRequest, shared_server: LiveServer, api_key: str) -> Iterator[Kit]:
    """The sync or the async transport on the project's server."""
    yield from make_kit(request.param, shared_server.base_url, api_key)


def emulate(client: httpx.Client, task_id: str, what: str, **params: str | int) -> None:
    """Play the remote: POST /emulator/v1/task/{id}/{what}."""
    response = client.post(f"/emulator/v1/task/{task_id}/{what}", params=params)
    assert response.status_code == 200, response.text


class TestAgainstTheProjectServer:
    def test_demo_flow(self, kit: Kit) -> None:
        """run -> pause -> resume -> stop -> resume refused locally (the CLI demo's flow)."""
        run = kit.create("demo", max_agent_steps=10, metadata={"who": "test"})
        assert (run.pause(), run.resume(), run.stop()) == (True, True, True)
        with pytest.raises(CannotResumeStoppedTask):
            run.resume()
        assert kit.transport.get_status(run.id) is TaskStatus.STOPPED
        assert [r.action for r in run.task.history] == [
            Action.START, Action.PAUSE, Action.RESUME, Action.STOP,
        ]  # fmt: skip

    def test_the_task_view(self, kit: Kit) -> None:
        """GET /task/{id} from the real server parses: steps, metadata, times."""
        run = kit.create("view me", metadata={"k": "v"})
        view = kit.transport.get_task(run.id)
        assert (view.id, view.status, view.task, dict(view.metadata)) == (
            run.id, TaskStatus.RUNNING, "view me", {"k": "v"},
        )  # fmt: skip
        assert view.created_at is not None

    def test_steps_and_finish_reach_the_client(self, kit: Kit, client: httpx.Client) -> None:
        """The remote takes 3 steps and finishes: refresh brings both, origin remote."""
        task_id = client.post("/api/v1/run-task", json={"task": "steps"}).json()["id"]
        run = kit.attach(task_id)
        emulate(client, task_id, "advance", steps=3)
        emulate(client, task_id, "finish")
        view = run.refresh()
        assert (run.status, run.steps, view.steps, len(view.step_details)) == (
            TaskStatus.FINISHED, 3, 3, 3,
        )  # fmt: skip
        assert run.task.history[-1].origin == "remote"

    def test_wait_reports_progress(self, kit: Kit, client: httpx.Client) -> None:
        """wait() polls until finished; on_progress sees each view (the remote moves in it)."""
        task_id = client.post("/api/v1/run-task", json={"task": "wait"}).json()["id"]
        run = kit.attach(task_id)
        seen: list[tuple[TaskStatus, int]] = []

        def progress(view: TaskView) -> None:
            seen.append((view.status, view.steps))
            if view.status is not TaskStatus.RUNNING:
                return
            if view.steps < 2:
                emulate(client, task_id, "advance")
            else:
                emulate(client, task_id, "finish")

        assert run.wait(timeout=30, interval=0, on_progress=progress) is TaskStatus.FINISHED
        assert seen == [
            (TaskStatus.RUNNING, 0), (TaskStatus.RUNNING, 1), (TaskStatus.RUNNING, 2),
            (TaskStatus.FINISHED, 2),
        ]  # fmt: skip

    def test_a_refusal_leaves_the_local_task_unchanged(
        self, kit: Kit, client: httpx.Client
    ) -> None:
        """The remote failed the task; pause is refused (409) and nothing changes locally."""
        task_id = client.post("/api/v1/run-task", json={"task": "fails"}).json()["id"]
        run = kit.attach(task_id)
        emulate(client, task_id, "fail", reason="crashed")
        before = run.task.to_dict()
        with pytest.raises(ActionRefused) as caught:
            run.pause()
        assert caught.value.status_code == 409
        assert run.task.to_dict() == before

    def test_a_conflict_on_refresh(self, kit: Kit, client: httpx.Client) -> None:
        """Stopped locally (remote failed it meanwhile, then stop was a no-op): conflict."""
        task_id = client.post("/api/v1/run-task", json={"task": "conflict"}).json()["id"]
        run = kit.attach(task_id)
        emulate(client, task_id, "fail")
        run.task.stop()  # a local-only stop, as if from an old snapshot
        before = run.task.to_dict()
        with pytest.raises(ReconcileConflict):
            run.refresh()
        assert run.task.to_dict() == before

    def test_list_tasks_pages(self, kit: Kit) -> None:
        """list_tasks pages newest first; the page's totals are consistent."""
        ids = [kit.create(f"list {i}").id for i in range(3)]
        page = kit.transport.list_tasks(page=1, limit=2)
        assert [t.id for t in page.tasks] == ids[::-1][:2]
        assert page.total_pages == -(-page.total_count // 2)

    def test_unknown_and_hostile_ids_are_not_found(self, kit: Kit) -> None:
        """An unknown id, or one full of ?&=/.., is a clean 404 on the right endpoint."""
        for task_id in ("task_nope", "a?task_id=b&x=/../tasks", "..%2f..%2ftasks"):
            with pytest.raises(TaskNotFound):
                kit.transport.get_status(task_id)
            with pytest.raises(TaskNotFound):
                kit.transport.push(task_id, Action.PAUSE)

    def test_a_wrong_key(self, shared_server: LiveServer) -> None:
        """The server answers 401: AuthError, without the key in it."""
        for kit in make_kit("async", shared_server.base_url, "not-a-valid-key-42"):
            with pytest.raises(AuthError) as caught:
                kit.transport.list_tasks()
            assert "not-a-valid-key-42" not in str(caught.value)
