"""The sync and async transports against the project's own server (``create_app`` under uvicorn).

The server is ``shared_server`` from this folder's conftest: ``tasklife.server.testing.
LiveServer`` on a free 127.0.0.1 port in a background thread, ready once ``/api/v1/ping``
answers (polled with a deadline, never a blind sleep), stopped at the end of the session.
The ``/emulator/v1`` endpoints play the remote's part (steps, finish, fail). Every test runs
on both faces (``tests/faces.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from faces import FACES

from integration.transport_kit import Kit, make_kit
from tasklife import CannotResumeStoppedTask, InvalidTransition, ReconcileConflict, TaskStatus
from tasklife.lifecycle import Action
from tasklife.server.testing import LiveServer
from tasklife.transports import ActionRefused, AuthError, TaskNotFound, TaskView
from tasklife.v1 import read_task_view, task_view_to_json


@pytest.fixture(params=FACES)
def kit(request: pytest.FixtureRequest, shared_server: LiveServer, api_key: str) -> Iterator[Kit]:
    """The sync or the async transport on the project's server."""
    yield from make_kit(request.param, shared_server.base_url, api_key, timeout=30)


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
        """GET /task/{id} from the real server parses: steps, metadata, times, options."""
        run = kit.create("view me", metadata={"k": "v"}, max_agent_steps=12)
        view = kit.transport.get_task(run.id)
        assert (view.id, view.status, view.task, dict(view.metadata), view.max_agent_steps) == (
            run.id, TaskStatus.RUNNING, "view me", {"k": "v"}, 12,
        )  # fmt: skip
        assert view.created_at is not None

    def test_the_server_answers_what_v1_writes(self, kit: Kit, client: httpx.Client) -> None:
        """The server's JSON for a task with steps is exactly tasklife.v1's writer output."""
        run = kit.create("written")
        emulate(client, run.id, "advance", steps=2)
        emulate(client, run.id, "finish")
        served = client.get(f"/api/v1/task/{run.id}").json()
        assert task_view_to_json(read_task_view(served)) == served

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

    def test_a_raw_refused_push_carries_the_domains_words(self, kit: Kit) -> None:
        """A push the server refuses is ActionRefused, 409, with the domain's message."""
        run = kit.create("raw push")
        run.stop()
        with pytest.raises(ActionRefused) as caught:
            kit.transport.push(run.id, Action.RESUME)
        assert caught.value.status_code == 409
        assert "a stopped task can never be resumed" in str(caught.value.detail)

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
        for task_id in ("task_nope", ".", "..", "a?task_id=b&x=/../tasks", "..%2f..%2ftasks"):
            with pytest.raises(TaskNotFound):
                kit.transport.get_status(task_id)
            with pytest.raises(TaskNotFound):
                kit.transport.push(task_id, Action.PAUSE)

    def test_a_wrong_key(self, shared_server: LiveServer, side: str) -> None:
        """The server answers 401: AuthError, without the key in it."""
        for kit in make_kit(side, shared_server.base_url, "not-a-valid-key-42"):
            with pytest.raises(AuthError) as caught:
                kit.transport.list_tasks()
            assert "not-a-valid-key-42" not in str(caught.value)


@pytest.fixture(params=FACES)
def side(request: pytest.FixtureRequest) -> str:
    """Which face: "sync" or "async"."""
    return str(request.param)


WORKERS, ROUNDS = 20, 50


def hammer(kit: Kit, run: Any) -> None:
    """WORKERS threads (sync) or coroutines (async), each ROUNDS times pause then resume on one
    remote task; a locally refused action (the task already moved) is expected and skipped."""
    if kit.face.runner is None:
        failures: list[BaseException] = []

        def worker() -> None:
            try:
                for _ in range(ROUNDS):
                    for act in (run.pause, run.resume):
                        with contextlib.suppress(InvalidTransition):
                            act()
            except BaseException as error:
                failures.append(error)

        threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        return
    target = run.target

    async def coroutine() -> None:
        for _ in range(ROUNDS):
            for act in (target.pause, target.resume):
                with contextlib.suppress(InvalidTransition):
                    await act()

    async def everyone() -> None:
        await asyncio.gather(*(coroutine() for _ in range(WORKERS)))

    kit.face.runner.run(everyone())


class TestConcurrentUse:
    def test_every_accepted_change_is_recorded_in_order(
        self, kit: Kit, client: httpx.Client
    ) -> None:
        """20 workers x 50 pause/resume on one remote task: every change the server accepted is
        in the local history, in the server's order, and nothing raised StaleTransition."""
        run = kit.create("shared")
        hammer(kit, run)
        served = client.get(f"/emulator/v1/task/{run.id}/history").json()["history"]
        assert [r["action"] for r in served] == [r.action.value for r in run.task.history]
        assert len(served) > 2
        assert run.status is kit.transport.get_status(run.id)

    def test_many_tasks_at_once(self, kit: Kit) -> None:
        """Twenty tasks paused and resumed concurrently all end running, none refused."""
        runs = [kit.create(f"t{n}") for n in range(20)]
        for run in runs:
            run.pause()
        for run in runs:
            run.resume()
        assert [kit.transport.get_status(run.id) for run in runs] == [TaskStatus.RUNNING] * 20
