"""RemoteTask and AsyncRemoteTask over InMemoryTransport: remote first, settle, reconcile, wait."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from tasklife import (
    CannotResumeStoppedTask,
    InvalidTaskData,
    InvalidTransition,
    ReconcileConflict,
    StaleTransition,
    TaskStatus,
)
from tasklife.lifecycle import Action
from tasklife.transports import (
    ActionRefused,
    AsyncInMemoryTransport,
    AsyncRemoteTask,
    ConnectionFailed,
    InMemoryTransport,
    RateLimited,
    RemoteTask,
    ServerError,
    TaskNotFound,
    TransportTimeout,
    WaitTimeout,
)

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine to completion."""
    return asyncio.run(coro)


@pytest.fixture
def remote() -> InMemoryTransport:
    """An empty in-memory remote."""
    return InMemoryTransport()


@pytest.fixture
def task(remote: InMemoryTransport) -> RemoteTask:
    """A running remote task, bound."""
    return RemoteTask.create(remote, "find a flight")


AMBIGUOUS = [
    pytest.param(TransportTimeout("read timeout", may_have_reached_server=True), id="timeout"),
    pytest.param(ConnectionFailed("dropped", may_have_reached_server=True), id="dropped"),
    pytest.param(ServerError("500", status_code=500, may_have_reached_server=True), id="500"),
]
SURE = [
    pytest.param(ConnectionFailed("refused"), id="refused"),
    pytest.param(RateLimited("429", status_code=429, retry_after=1.0), id="429"),
    pytest.param(TaskNotFound("404", status_code=404), id="404"),
]


class TestRemoteTask:
    def test_create_reconciles_the_start(self, task: RemoteTask) -> None:
        """create: run-task, then the remote's running status is applied as a remote start."""
        assert task.status is TaskStatus.RUNNING
        assert [(r.action, r.origin) for r in task.task.history] == [(Action.START, "remote")]

    def test_actions_push_then_commit_locally(
        self, task: RemoteTask, remote: InMemoryTransport
    ) -> None:
        """pause/resume/stop reach the remote, then commit with origin local."""
        assert (task.pause(), task.resume(), task.stop()) == (True, True, True)
        assert [a for _, a in remote.pushed] == [Action.PAUSE, Action.RESUME, Action.STOP]
        assert remote.get_status(task.id) is TaskStatus.STOPPED
        assert [r.origin for r in task.task.history[1:]] == ["local"] * 3

    def test_the_guard_runs_before_any_call(
        self, task: RemoteTask, remote: InMemoryTransport
    ) -> None:
        """Resuming a stopped task raises locally; the remote hears nothing."""
        task.stop()
        calls = len(remote.calls)
        with pytest.raises(CannotResumeStoppedTask):
            task.resume()
        assert len(remote.calls) == calls

    def test_an_illegal_action_sends_nothing(
        self, task: RemoteTask, remote: InMemoryTransport
    ) -> None:
        """resume while running: InvalidTransition, no call."""
        calls = len(remote.calls)
        with pytest.raises(InvalidTransition):
            task.resume()
        assert len(remote.calls) == calls

    def test_stop_on_a_terminal_task_is_a_silent_no_op(
        self, task: RemoteTask, remote: InMemoryTransport
    ) -> None:
        """stop twice: the second returns False and sends nothing."""
        task.stop()
        calls = len(remote.calls)
        assert task.stop() is False
        assert len(remote.calls) == calls

    @pytest.mark.parametrize("ended", [TaskStatus.FINISHED, TaskStatus.FAILED], ids=str)
    def test_stop_after_the_remote_ended_the_task_records_how_it_ended(
        self, task: RemoteTask, remote: InMemoryTransport, ended: TaskStatus
    ) -> None:
        """A 200 to stop on a task the remote already ended is reconciled, not a stop."""
        remote.set_status(task.id, ended)
        assert task.stop() is True
        assert task.status is ended
        assert [(r.action, r.origin) for r in task.task.history][-1] == (
            Action.FINISH if ended is TaskStatus.FINISHED else Action.FAIL,
            "remote",
        )
        task.refresh()  # and the two views agree: no ReconcileConflict
        assert task.status is ended

    def test_stop_is_committed_when_the_status_read_fails(
        self, task: RemoteTask, remote: InMemoryTransport
    ) -> None:
        """An accepted stop whose confirming read fails is still committed as stopped."""
        remote.fail_next(ServerError("500", status_code=500), on="get_status")
        assert task.stop() is True
        assert task.status is TaskStatus.STOPPED

    def test_async_stop_after_the_remote_finished(self) -> None:
        """The async twin reconciles a stop on a remotely finished task the same way."""

        async def scenario() -> TaskStatus:
            remote = AsyncInMemoryTransport()
            bound = await AsyncRemoteTask.create(remote, "find a flight")
            remote.backend.set_status(bound.id, TaskStatus.FINISHED)
            await bound.stop()
            return bound.status

        assert run(scenario()) is TaskStatus.FINISHED

    @pytest.mark.parametrize("error", SURE)
    def test_a_sure_failure_changes_nothing(
        self, task: RemoteTask, remote: InMemoryTransport, error: Exception
    ) -> None:
        """A failure that surely had no effect is raised as is; no status read."""
        before = task.task.to_dict()
        remote.fail_next(error, on="push")  # type: ignore[arg-type]
        with pytest.raises(type(error)):
            task.pause()
        assert task.task.to_dict() == before
        assert remote.calls[-1][0] == "push"

    @pytest.mark.parametrize("error", AMBIGUOUS)
    def test_an_ambiguous_failure_without_effect_raises(
        self, task: RemoteTask, remote: InMemoryTransport, error: Exception
    ) -> None:
        """The status is read; still running, so the original error is raised, nothing changed."""
        before = task.task.to_dict()
        remote.fail_next(error, on="push")  # type: ignore[arg-type]
        with pytest.raises(type(error)) as caught:
            task.pause()
        assert caught.value is error
        assert task.task.to_dict() == before
        assert remote.calls[-1][0] == "get_status"

    @pytest.mark.parametrize("error", AMBIGUOUS)
    def test_an_ambiguous_failure_with_effect_succeeds(
        self, task: RemoteTask, remote: InMemoryTransport, error: Exception
    ) -> None:
        """The remote applied it before failing: committed with origin remote, True returned."""
        remote.fail_next(error, on="push", applied=True)  # type: ignore[arg-type]
        assert task.pause() is True
        record = task.task.history[-1]
        assert (record.action, record.origin) == (Action.PAUSE, "remote")
        assert record.reason is not None

    def test_an_unreadable_status_after_an_ambiguous_failure_raises_the_first_error(
        self, task: RemoteTask, remote: InMemoryTransport
    ) -> None:
        """The status read fails too: the push's error is raised, nothing changed."""
        first = TransportTimeout("push", may_have_reached_server=True)
        remote.fail_next(first, on="push")
        remote.fail_next(ConnectionFailed("read"), on="get_status")
        before = task.task.to_dict()
        with pytest.raises(TransportTimeout) as caught:
            task.pause()
        assert caught.value is first
        assert task.task.to_dict() == before

    def test_a_refusal_raises_when_the_remote_is_elsewhere(
        self, task: RemoteTask, remote: InMemoryTransport
    ) -> None:
        """The remote finished the task: pause is refused (409), local unchanged."""
        remote.set_status(task.id, TaskStatus.FINISHED)
        before = task.task.to_dict()
        with pytest.raises(ActionRefused):
            task.pause()
        assert task.task.to_dict() == before

    def test_a_refusal_at_the_destination_is_success(
        self, task: RemoteTask, remote: InMemoryTransport
    ) -> None:
        """The remote is already paused and refuses pause: success, origin remote."""
        remote.set_status(task.id, TaskStatus.PAUSED)
        assert task.pause() is True
        assert task.task.history[-1].origin == "remote"

    def test_a_concurrent_local_change_is_stale(
        self, task: RemoteTask, remote: InMemoryTransport
    ) -> None:
        """The local task moved while the push was in flight: StaleTransition."""

        class Racing(InMemoryTransport):
            def push(self, task_id: str, action: Action) -> None:
                super().push(task_id, action)
                task.task.fail("meanwhile")

        racing = Racing()
        racing.tasks = remote.tasks
        with pytest.raises(StaleTransition):
            RemoteTask(racing, task.task).pause()

    def test_attach_rebuilds_from_the_remote_view(self, remote: InMemoryTransport) -> None:
        """attach: status, steps and created_at from the remote; remote-origin history."""
        record = remote.add_task("task_x", status=TaskStatus.PAUSED, steps=4)
        bound = RemoteTask.attach(remote, "task_x")
        assert (bound.status, bound.steps, bound.task.created_at) == (
            TaskStatus.PAUSED, 4, record.created_at,
        )  # fmt: skip
        assert {r.origin for r in bound.task.history} == {"remote"}
        assert bound.view is not None

    def test_attach_to_an_unknown_task(self, remote: InMemoryTransport) -> None:
        """attach to a task the remote does not have: TaskNotFound."""
        with pytest.raises(TaskNotFound):
            RemoteTask.attach(remote, "task_missing")

    def test_attach_refuses_a_bad_id_without_a_call(self, remote: InMemoryTransport) -> None:
        """A malformed id is InvalidTaskData before any call."""
        with pytest.raises(InvalidTaskData):
            RemoteTask.attach(remote, "bad id")
        assert remote.calls == []

    def test_create_survives_a_failed_read_back(self, remote: InMemoryTransport) -> None:
        """run-task worked, the read failed: the task is returned in created with its id."""
        remote.fail_next(ConnectionFailed("x"), on="get_task")
        bound = RemoteTask.create(remote, "x")
        assert bound.status is TaskStatus.CREATED
        assert bound.id in remote.tasks

    def test_refresh_applies_remote_changes(
        self, task: RemoteTask, remote: InMemoryTransport
    ) -> None:
        """The remote finished with 7 steps: refresh applies finish (remote) and the steps."""
        remote.set_status(task.id, TaskStatus.FINISHED, steps=7)
        view = task.refresh()
        assert (task.status, task.steps, view.steps) == (TaskStatus.FINISHED, 7, 7)
        assert task.task.history[-1].origin == "remote"

    @pytest.mark.parametrize(
        ("local", "remote_status"),
        [(TaskStatus.STOPPED, TaskStatus.RUNNING), (TaskStatus.FINISHED, TaskStatus.PAUSED)],
        ids=["stopped-vs-running", "finished-vs-paused"],
    )
    def test_an_impossible_jump_is_a_conflict(
        self,
        task: RemoteTask,
        remote: InMemoryTransport,
        local: TaskStatus,
        remote_status: TaskStatus,
    ) -> None:
        """Local stopped/finished, remote running/paused: ReconcileConflict, nothing changed."""
        task.task.reconcile(local)
        remote.set_status(task.id, remote_status)
        before = task.task.to_dict()
        with pytest.raises(ReconcileConflict):
            task.refresh()
        assert task.task.to_dict() == before


class FakeClock:
    """A monotonic clock that only moves when the fake sleep is called."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


class TestWait:
    def test_until_terminal(self, task: RemoteTask, remote: InMemoryTransport) -> None:
        """wait() polls until the remote finishes and returns the terminal status."""
        clock = FakeClock()
        views: list[int] = []

        def progress(view: Any) -> None:
            views.append(view.steps)
            if len(views) == 3:
                remote.set_status(task.id, TaskStatus.FINISHED, steps=3)
            else:
                remote.tasks[task.id].steps += 1

        status = task.wait(interval=1, on_progress=progress, sleep=clock.sleep,
                           monotonic=clock.monotonic)  # fmt: skip
        assert status is TaskStatus.FINISHED
        assert views == [0, 1, 2, 3]
        assert clock.sleeps == [1, 1, 1]

    def test_paused_never_spins_forever(self, task: RemoteTask, remote: InMemoryTransport) -> None:
        """A task paused for good: WaitTimeout after the timeout, with bounded polls."""
        remote.set_status(task.id, TaskStatus.PAUSED)
        clock = FakeClock()
        with pytest.raises(WaitTimeout) as caught:
            task.wait(timeout=10, interval=3, sleep=clock.sleep, monotonic=clock.monotonic)
        assert caught.value.status is TaskStatus.PAUSED
        assert clock.sleeps == [3, 3, 3, 1]

    def test_until_a_chosen_status(self, task: RemoteTask, remote: InMemoryTransport) -> None:
        """wait(until=paused) returns at paused."""
        remote.set_status(task.id, TaskStatus.PAUSED)
        assert task.wait(TaskStatus.PAUSED, sleep=FakeClock().sleep) is TaskStatus.PAUSED

    @pytest.mark.parametrize(
        "kwargs",
        [{"until": []}, {"until": ["nope"]}, {"timeout": -1}, {"interval": float("nan")}],
        ids=["empty", "unknown", "negative", "nan"],
    )
    def test_bad_arguments(self, task: RemoteTask, kwargs: dict[str, Any]) -> None:
        """Bad until/timeout/interval: InvalidTaskData before any poll."""
        with pytest.raises(InvalidTaskData):
            task.wait(**kwargs)


class TestAsyncRemoteTask:
    def test_lifecycle(self) -> None:
        """create, pause, resume, stop; resume of the stopped task refused with no call."""

        async def scenario() -> tuple[list[str], int, int]:
            remote = AsyncInMemoryTransport()
            bound = await AsyncRemoteTask.create(remote, "x")
            await bound.pause()
            await bound.resume()
            await bound.stop()
            calls = len(remote.backend.calls)
            with pytest.raises(CannotResumeStoppedTask):
                await bound.resume()
            return [r.dest.value for r in bound.task.history], calls, len(remote.backend.calls)

        dests, before, after = run(scenario())
        assert dests == ["running", "paused", "running", "stopped"]
        assert before == after

    @pytest.mark.parametrize("error", AMBIGUOUS)
    def test_ambiguous_failures(self, error: Exception) -> None:
        """Without effect: raised, unchanged; with effect: committed as remote."""

        async def scenario() -> tuple[bool, bool, str]:
            remote = AsyncInMemoryTransport()
            bound = await AsyncRemoteTask.create(remote, "x")
            before = bound.task.to_dict()
            remote.fail_next(error, on="push")  # type: ignore[arg-type]
            with pytest.raises(type(error)):
                await bound.pause()
            unchanged = bound.task.to_dict() == before
            remote.fail_next(error, on="push", applied=True)  # type: ignore[arg-type]
            moved = await bound.pause()
            return unchanged, moved, bound.task.history[-1].origin

        assert run(scenario()) == (True, True, "remote")

    def test_attach_refresh_and_wait(self) -> None:
        """attach a paused task; wait(until=finished) after the remote resumes and finishes."""
        clock = FakeClock()

        async def scenario() -> TaskStatus:
            remote = AsyncInMemoryTransport()
            remote.backend.add_task("task_a", status=TaskStatus.PAUSED, steps=2)
            bound = await AsyncRemoteTask.attach(remote, "task_a")
            assert (bound.status, bound.steps) == (TaskStatus.PAUSED, 2)
            await bound.resume()
            remote.backend.set_status("task_a", TaskStatus.FINISHED, steps=5)
            return await bound.wait(sleep=clock.async_sleep, monotonic=clock.monotonic)

        assert run(scenario()) is TaskStatus.FINISHED

    def test_wait_times_out_on_paused(self) -> None:
        """Async wait on a paused task: WaitTimeout, never an endless loop."""
        clock = FakeClock()

        async def scenario() -> None:
            remote = AsyncInMemoryTransport()
            remote.backend.add_task("task_p", status=TaskStatus.PAUSED)
            bound = await AsyncRemoteTask.attach(remote, "task_p")
            await bound.wait(timeout=5, interval=2, sleep=clock.async_sleep,
                             monotonic=clock.monotonic)  # fmt: skip

        with pytest.raises(WaitTimeout):
            run(scenario())
        assert clock.sleeps == [2, 2, 1]
