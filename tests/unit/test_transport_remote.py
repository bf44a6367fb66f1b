"""RemoteTask and AsyncRemoteTask over the in-memory transports, one test body per face.

This is the home of the remote-first rules: push before commit, the read-back after an
ambiguous failure or a refusal, the status read after an accepted stop, refresh, wait, create,
attach. Every test runs once on the sync face and once on the async face (``tests/faces.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from faces import FACES, Face, FakeClock, in_memory

from tasklife import (
    CannotResumeStoppedTask,
    InvalidArgument,
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
    ProtocolError,
    RateLimited,
    ServerError,
    TaskNotFound,
    TaskView,
    TransportError,
    TransportTimeout,
    WaitTimeout,
)


@pytest.fixture(params=FACES)
def face(request: pytest.FixtureRequest) -> Iterator[Face]:
    """The sync or the async face on a fresh in-memory remote."""
    yield from in_memory(request.param)


@pytest.fixture
def remote(face: Face) -> InMemoryTransport:
    """The in-memory remote behind ``face`` (its state and test controls)."""
    remote: InMemoryTransport = face.remote
    return remote


@pytest.fixture
def run(face: Face) -> Any:
    """A running remote task, bound (a RemoteTask, or a blocking AsyncRemoteTask)."""
    return face.create("find a flight")


AMBIGUOUS = [
    pytest.param(TransportTimeout("read timeout", may_have_reached_server=True), id="timeout"),
    pytest.param(ConnectionFailed("dropped", may_have_reached_server=True), id="dropped"),
    pytest.param(ServerError("500", status_code=500, may_have_reached_server=True), id="500"),
    pytest.param(ProtocolError("unreadable 200", may_have_reached_server=True), id="bad-200"),
]
SURE = [
    pytest.param(ConnectionFailed("refused"), id="refused"),
    pytest.param(RateLimited("429", status_code=429, retry_after=1.0), id="429"),
    pytest.param(TaskNotFound("404", status_code=404), id="404"),
]


class TestActions:
    def test_create_reconciles_the_start(self, run: Any) -> None:
        """create: run-task, then the remote's running status is applied as a remote start."""
        assert run.status is TaskStatus.RUNNING
        assert [(r.action, r.origin) for r in run.task.history] == [(Action.START, "remote")]

    def test_create_sends_the_options(self, face: Face, remote: InMemoryTransport) -> None:
        """create(**options): the remote task holds the options given."""
        bound = face.create("x", metadata={"k": "v"}, max_agent_steps=9, llm_model="m")
        record = remote.tasks[bound.id]
        assert (record.metadata, record.max_agent_steps, record.llm_model) == ({"k": "v"}, 9, "m")

    def test_actions_push_then_commit_locally(self, run: Any, remote: InMemoryTransport) -> None:
        """pause/resume/stop reach the remote, then commit with origin local."""
        assert (run.pause(), run.resume(), run.stop()) == (True, True, True)
        assert [a for _, a in remote.pushed] == [Action.PAUSE, Action.RESUME, Action.STOP]
        assert remote.get_status(run.id) is TaskStatus.STOPPED
        assert [r.origin for r in run.task.history[1:]] == ["local"] * 3

    def test_the_guard_runs_before_any_call(self, run: Any, remote: InMemoryTransport) -> None:
        """Resuming a stopped task raises locally; the remote hears nothing."""
        run.stop()
        calls = len(remote.calls)
        with pytest.raises(CannotResumeStoppedTask):
            run.resume()
        assert len(remote.calls) == calls

    def test_an_illegal_action_sends_nothing(self, run: Any, remote: InMemoryTransport) -> None:
        """resume while running: InvalidTransition, no call."""
        calls = len(remote.calls)
        with pytest.raises(InvalidTransition):
            run.resume()
        assert len(remote.calls) == calls

    def test_stop_on_a_terminal_task_is_a_silent_no_op(
        self, run: Any, remote: InMemoryTransport
    ) -> None:
        """stop twice: the second returns False and sends nothing."""
        run.stop()
        calls = len(remote.calls)
        assert run.stop() is False
        assert len(remote.calls) == calls

    @pytest.mark.parametrize("ended", [TaskStatus.FINISHED, TaskStatus.FAILED], ids=str)
    def test_stop_after_the_remote_ended_the_task_records_how_it_ended(
        self, run: Any, remote: InMemoryTransport, ended: TaskStatus
    ) -> None:
        """A 200 to stop on a task the remote already ended is reconciled, not a stop."""
        remote.set_status(run.id, ended)
        assert run.stop() is True
        assert run.status is ended
        assert [(r.action, r.origin) for r in run.task.history][-1] == (
            Action.FINISH if ended is TaskStatus.FINISHED else Action.FAIL,
            "remote",
        )
        run.refresh()  # and the two views agree: no ReconcileConflict
        assert run.status is ended

    @pytest.mark.parametrize(
        "error",
        [ServerError("500", status_code=500), ProtocolError("deep JSON", status_code=200)],
        ids=["500", "unreadable"],
    )
    def test_stop_is_committed_when_the_status_read_fails(
        self, run: Any, remote: InMemoryTransport, error: TransportError
    ) -> None:
        """An accepted stop whose confirming read fails (however) is still committed."""
        remote.fail_next(error, on="get_status")
        assert run.stop() is True
        assert run.status is TaskStatus.STOPPED is remote.get_status(run.id)

    @pytest.mark.parametrize("error", SURE)
    def test_a_sure_failure_changes_nothing(
        self, run: Any, remote: InMemoryTransport, error: TransportError
    ) -> None:
        """A failure that surely had no effect is raised as is; no status read."""
        before = run.task.to_dict()
        remote.fail_next(error, on="push")
        with pytest.raises(type(error)):
            run.pause()
        assert run.task.to_dict() == before
        assert remote.calls[-1][0] == "push"

    @pytest.mark.parametrize("error", AMBIGUOUS)
    def test_an_ambiguous_failure_without_effect_raises(
        self, run: Any, remote: InMemoryTransport, error: TransportError
    ) -> None:
        """The status is read; still running, so the original error is raised, nothing changed."""
        before = run.task.to_dict()
        remote.fail_next(error, on="push")
        with pytest.raises(type(error)) as caught:
            run.pause()
        assert caught.value is error
        assert run.task.to_dict() == before
        assert remote.calls[-1][0] == "get_status"

    @pytest.mark.parametrize("error", AMBIGUOUS)
    def test_an_ambiguous_failure_with_effect_succeeds(
        self, run: Any, remote: InMemoryTransport, error: TransportError
    ) -> None:
        """The remote applied it before failing: committed with origin remote, True returned."""
        remote.fail_next(error, on="push", applied=True)
        assert run.pause() is True
        record = run.task.history[-1]
        assert (record.action, record.origin) == (Action.PAUSE, "remote")
        assert record.reason is not None
        assert run.status is remote.get_status(run.id)

    def test_an_unreadable_status_after_an_ambiguous_failure_raises_the_first_error(
        self, run: Any, remote: InMemoryTransport
    ) -> None:
        """The status read fails too: the push's error is raised, nothing changed."""
        first = TransportTimeout("push", may_have_reached_server=True)
        remote.fail_next(first, on="push")
        remote.fail_next(ConnectionFailed("read"), on="get_status")
        before = run.task.to_dict()
        with pytest.raises(TransportTimeout) as caught:
            run.pause()
        assert caught.value is first
        assert run.task.to_dict() == before

    def test_a_refusal_raises_when_the_remote_is_elsewhere(
        self, run: Any, remote: InMemoryTransport
    ) -> None:
        """The remote finished the task: pause is refused (409), local unchanged."""
        remote.set_status(run.id, TaskStatus.FINISHED)
        before = run.task.to_dict()
        with pytest.raises(ActionRefused) as caught:
            run.pause()
        assert caught.value.status_code == 409
        assert run.task.to_dict() == before

    def test_a_refusal_at_the_destination_is_success(
        self, run: Any, remote: InMemoryTransport
    ) -> None:
        """The remote is already paused and refuses pause: success, origin remote."""
        remote.set_status(run.id, TaskStatus.PAUSED)
        assert run.pause() is True
        assert run.task.history[-1].origin == "remote"

    def test_a_concurrent_local_change_is_stale(self, face: Face, run: Any) -> None:
        """The local task moved while the push was in flight: StaleTransition."""

        class Racing(InMemoryTransport):
            def push(self, task_id: str, action: Action) -> None:
                super().push(task_id, action)
                run.task.fail("meanwhile")

        racing = Racing()
        racing.tasks = face.remote.tasks
        for other in in_memory(face.name, racing):
            with pytest.raises(StaleTransition):
                other.bind(run.task).pause()


class TestReading:
    def test_attach_rebuilds_from_the_remote_view(
        self, face: Face, remote: InMemoryTransport
    ) -> None:
        """attach: status, steps and created_at from the remote; remote-origin history."""
        record = remote.add_task("task_x", status=TaskStatus.PAUSED, steps=4)
        bound = face.attach("task_x")
        assert (bound.status, bound.steps, bound.task.created_at) == (
            TaskStatus.PAUSED, 4, record.task.created_at,
        )  # fmt: skip
        assert {r.origin for r in bound.task.history} == {"remote"}
        assert bound.view is not None

    def test_attach_to_an_unknown_task(self, face: Face) -> None:
        """attach to a task the remote does not have: TaskNotFound (also a LookupError)."""
        with pytest.raises(TaskNotFound) as caught:
            face.attach("task_missing")
        assert isinstance(caught.value, LookupError)

    def test_attach_refuses_a_bad_id_without_a_call(
        self, face: Face, remote: InMemoryTransport
    ) -> None:
        """A malformed id is InvalidTaskData before any call."""
        with pytest.raises(InvalidTaskData):
            face.attach("bad id")
        assert remote.calls == []

    @pytest.mark.parametrize(
        "error",
        [ConnectionFailed("x"), ProtocolError("nested too deep", status_code=200)],
        ids=["dropped", "unreadable"],
    )
    def test_create_never_loses_the_id(
        self, face: Face, remote: InMemoryTransport, error: TransportError
    ) -> None:
        """run-task worked, the read failed: the task is returned in created with its id."""
        remote.fail_next(error, on="get_task")
        bound = face.create("x")
        assert bound.status is TaskStatus.CREATED
        assert bound.id in remote.tasks
        assert bound.refresh().status is TaskStatus.RUNNING

    def test_refresh_applies_remote_changes(self, run: Any, remote: InMemoryTransport) -> None:
        """The remote finished with 7 steps: refresh applies finish (remote) and the steps."""
        remote.set_status(run.id, TaskStatus.FINISHED, steps=7)
        view = run.refresh()
        assert (run.status, run.steps, view.steps) == (TaskStatus.FINISHED, 7, 7)
        assert run.task.history[-1].origin == "remote"

    @pytest.mark.parametrize(
        ("local", "remote_status"),
        [(TaskStatus.STOPPED, TaskStatus.RUNNING), (TaskStatus.FINISHED, TaskStatus.PAUSED)],
        ids=["stopped-vs-running", "finished-vs-paused"],
    )
    def test_an_impossible_jump_is_a_conflict(
        self, run: Any, remote: InMemoryTransport, local: TaskStatus, remote_status: TaskStatus
    ) -> None:
        """Local stopped/finished, remote running/paused: ReconcileConflict, nothing changed."""
        run.task.reconcile(local)
        remote.set_status(run.id, remote_status)
        before = run.task.to_dict()
        with pytest.raises(ReconcileConflict):
            run.refresh()
        assert run.task.to_dict() == before


class TestWait:
    def test_until_terminal(self, face: Face, run: Any, remote: InMemoryTransport) -> None:
        """wait() polls until the remote finishes and returns the terminal status."""
        clock = FakeClock()
        views: list[int] = []

        def progress(view: TaskView) -> None:
            views.append(view.steps)
            if len(views) == 3:
                remote.set_status(run.id, TaskStatus.FINISHED, steps=3)
            else:
                remote.set_status(run.id, TaskStatus.RUNNING, steps=len(views))

        status = run.wait(interval=1, on_progress=progress, sleep=face.sleep(clock),
                          monotonic=clock.monotonic)  # fmt: skip
        assert status is TaskStatus.FINISHED
        assert views == [0, 1, 2, 3]
        assert clock.sleeps == [1, 1, 1]

    def test_paused_never_spins_forever(
        self, face: Face, run: Any, remote: InMemoryTransport
    ) -> None:
        """A task paused for good: WaitTimeout after the timeout, with bounded polls."""
        remote.set_status(run.id, TaskStatus.PAUSED)
        clock = FakeClock()
        with pytest.raises(WaitTimeout) as caught:
            run.wait(timeout=10, interval=3, sleep=face.sleep(clock), monotonic=clock.monotonic)
        assert caught.value.status is TaskStatus.PAUSED
        assert clock.sleeps == [3, 3, 3, 1]

    def test_until_a_chosen_status(self, face: Face, run: Any, remote: InMemoryTransport) -> None:
        """wait(until=paused) returns at paused."""
        remote.set_status(run.id, TaskStatus.PAUSED)
        assert run.wait(TaskStatus.PAUSED, sleep=face.sleep(FakeClock())) is TaskStatus.PAUSED

    def test_a_poll_that_outlives_the_timeout_is_a_wait_timeout(
        self, face: Face, remote: InMemoryTransport
    ) -> None:
        """A poll cut off by wait's own deadline ends wait with WaitTimeout, nothing changed."""
        clock = FakeClock()

        class Slow(InMemoryTransport):
            def get_task(self, task_id: str) -> TaskView:
                clock.now += 30  # the poll took the whole timeout, then the deadline cut it
                raise TransportTimeout("deadline", may_have_reached_server=True)

        slow = Slow()
        slow.tasks = remote.tasks
        remote.add_task("task_w")
        for other in in_memory(face.name, slow):
            bound = other.bind(remote.tasks["task_w"].task)
            with pytest.raises(WaitTimeout):
                bound.wait(timeout=10, sleep=other.sleep(clock), monotonic=clock.monotonic)

    def test_a_transport_timeout_within_the_timeout_is_raised(
        self, run: Any, face: Face, remote: InMemoryTransport
    ) -> None:
        """A transport timeout while wait still has time is the transport's error."""
        remote.fail_next(TransportTimeout("slow"), on="get_task")
        clock = FakeClock()
        with pytest.raises(TransportTimeout):
            run.wait(timeout=10, sleep=face.sleep(clock), monotonic=clock.monotonic)

    @pytest.mark.parametrize(
        "kwargs",
        [{"until": []}, {"until": ["nope"]}, {"until": 3}, {"timeout": -1},
         {"interval": float("nan")}, {"timeout": True}, {"timeout": float("inf")}, {"every": 1}],
        ids=["empty", "unknown", "not-statuses", "negative", "nan", "bool", "inf",
             "unknown-option"],
    )  # fmt: skip
    def test_bad_arguments(self, run: Any, remote: InMemoryTransport, kwargs: Any) -> None:
        """Bad until/timeout/interval or an unknown option: InvalidArgument before any poll."""
        calls = len(remote.calls)
        with pytest.raises(InvalidArgument):
            run.wait(**kwargs)
        assert len(remote.calls) == calls


class Held(AsyncInMemoryTransport):
    """An async remote whose pushes wait for ``release`` once they reached it and took effect."""

    def __init__(self) -> None:
        super().__init__()
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    async def push(self, task_id: str, action: Action) -> None:
        self.backend.push(task_id, action)
        self.reached.set()
        await self.release.wait()


class TestCancellation:
    def test_a_sent_push_runs_to_its_commit(self) -> None:
        """Cancelled after the push was sent: the caller sees CancelledError, the task commits."""

        async def scenario() -> tuple[bool, TaskStatus, TaskStatus]:
            remote = Held()
            run = await AsyncRemoteTask.create(remote, "x")
            pausing = asyncio.ensure_future(run.pause())
            await remote.reached.wait()
            pausing.cancel()
            remote.release.set()
            try:
                await pausing
            except asyncio.CancelledError:
                cancelled = True
            else:
                cancelled = False
            return cancelled, run.status, remote.backend.get_status(run.id)

        assert asyncio.run(scenario()) == (True, TaskStatus.PAUSED, TaskStatus.PAUSED)

    def test_a_deadline_passing_mid_push_is_a_timeout_and_the_task_still_matches(self) -> None:
        """asyncio.timeout expires while the push is held: TimeoutError, yet local = remote."""

        async def scenario() -> tuple[TaskStatus, TaskStatus]:
            remote = Held()
            run = await AsyncRemoteTask.create(remote, "x")
            scopes: list[asyncio.Timeout] = []

            async def pause_with_a_deadline() -> None:
                async with asyncio.timeout(None) as scope:
                    scopes.append(scope)
                    await run.pause()

            pausing = asyncio.ensure_future(pause_with_a_deadline())
            await remote.reached.wait()
            scopes[0].reschedule(asyncio.get_running_loop().time())  # the deadline passes now
            while not pausing.cancelling():  # until the deadline has cancelled the caller
                await asyncio.sleep(0)
            remote.release.set()
            with pytest.raises(TimeoutError):
                await pausing
            return run.status, remote.backend.get_status(run.id)

        assert asyncio.run(scenario()) == (TaskStatus.PAUSED, TaskStatus.PAUSED)

    def test_a_cancellation_before_the_push_sends_nothing(self) -> None:
        """Cancelled while waiting for its turn (the lock): nothing sent, nothing changed."""

        async def scenario() -> tuple[list[Any], TaskStatus]:
            remote = Held()
            run = await AsyncRemoteTask.create(remote, "x")
            first = asyncio.ensure_future(run.pause())
            await remote.reached.wait()
            second = asyncio.ensure_future(run.stop())
            await asyncio.sleep(0)
            second.cancel()
            remote.release.set()
            await first
            with pytest.raises(asyncio.CancelledError):
                await second
            return remote.pushed, run.status

        pushed, status = asyncio.run(scenario())
        assert [action for _, action in pushed] == [Action.PAUSE]
        assert status is TaskStatus.PAUSED
