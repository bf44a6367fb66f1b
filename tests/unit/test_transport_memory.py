"""InMemoryTransport and its async twin: the public test double runs real Tasks and fails on cue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from faces import FACES, Face, in_memory

from tasklife import InvalidArgument, InvalidTaskData, Task, TaskStatus
from tasklife.lifecycle import Action
from tasklife.transports import (
    ActionRefused,
    AsyncInMemoryTransport,
    AsyncTransport,
    ConnectionFailed,
    InMemoryTransport,
    RateLimited,
    TaskNotFound,
    Transport,
    TransportClosed,
)
from tasklife.v1 import task_view


@pytest.fixture(params=FACES)
def face(request: pytest.FixtureRequest) -> Iterator[Face]:
    """The sync or the async in-memory transport (``face.transport``), blocking."""
    yield from in_memory(request.param)


@pytest.fixture
def remote(face: Face) -> InMemoryTransport:
    """The state behind ``face``."""
    remote: InMemoryTransport = face.remote
    return remote


class TestInMemoryTransport:
    def test_satisfies_the_ports(self) -> None:
        """It is a Transport; its twin is an AsyncTransport."""
        assert isinstance(InMemoryTransport(), Transport)
        assert isinstance(AsyncInMemoryTransport(), AsyncTransport)

    def test_run_task_creates_a_running_task(self, face: Face) -> None:
        """run_task: a new id, a real Task started by the remote, the options kept."""
        task_id = face.transport.run_task("go", metadata={"a": "b"}, max_agent_steps=5)
        view = face.transport.get_task(task_id)
        assert (view.status, view.task, dict(view.metadata), view.max_agent_steps) == (
            TaskStatus.RUNNING, "go", {"a": "b"}, 5,
        )  # fmt: skip
        assert [(r.action, r.origin) for r in face.remote.tasks[task_id].task.history] == [
            (Action.START, "remote")
        ]

    def test_views_come_from_the_v1_builder(self, face: Face, remote: InMemoryTransport) -> None:
        """get_task answers exactly tasklife.v1.task_view of the remote's Task."""
        record = remote.add_task("t", status=TaskStatus.FINISHED, steps=2, text="x")
        expected = task_view(record.task, text="x", finished_at=record.finished_at)
        assert face.transport.get_task("t") == expected
        assert expected.finished_at == record.task.history[-1].at

    def test_pushes_are_domain_actions(self, face: Face, remote: InMemoryTransport) -> None:
        """pause, resume, stop are the remote Task's actions (origin local: the client asked)."""
        task_id = face.transport.run_task("go")
        for action in (Action.PAUSE, Action.RESUME, Action.STOP):
            face.transport.push(task_id, action)
        history = remote.tasks[task_id].task.history
        assert [(r.action, r.origin) for r in history[1:]] == [
            (Action.PAUSE, "local"), (Action.RESUME, "local"), (Action.STOP, "local"),
        ]  # fmt: skip
        assert [a for _, a in remote.pushed] == [Action.PAUSE, Action.RESUME, Action.STOP]

    def test_a_refused_push_is_409_with_the_domains_message(
        self, face: Face, remote: InMemoryTransport
    ) -> None:
        """resume of a stopped task: ActionRefused (409), the domain's words, not recorded."""
        task_id = face.transport.run_task("go")
        face.transport.push(task_id, Action.STOP)
        with pytest.raises(ActionRefused) as caught:
            face.transport.push(task_id, Action.RESUME)
        assert caught.value.status_code == 409
        assert "a stopped task can never be resumed" in caught.value.detail
        assert [a for _, a in remote.pushed] == [Action.STOP]

    def test_stop_on_a_terminal_task_is_accepted(
        self, face: Face, remote: InMemoryTransport
    ) -> None:
        """stop of a finished task: accepted, nothing changes (the domain's no-op)."""
        record = remote.add_task("t", status=TaskStatus.FINISHED)
        face.transport.push("t", Action.STOP)
        assert face.transport.get_status("t") is TaskStatus.FINISHED
        assert record.task.version == 2

    @pytest.mark.parametrize("action", [Action.START, Action.FINISH, Action.FAIL], ids=str)
    def test_remote_actions_cannot_be_pushed(
        self, face: Face, remote: InMemoryTransport, action: Action
    ) -> None:
        """start/finish/fail are the remote's: InvalidTaskData before any call, as over HTTP."""
        remote.add_task("t")
        with pytest.raises(InvalidTaskData):
            face.transport.push("t", action)
        assert remote.calls == []

    def test_unknown_task(self, face: Face) -> None:
        """An unknown id is TaskNotFound (404), naming the id."""
        with pytest.raises(TaskNotFound) as caught:
            face.transport.get_status("nope")
        assert (caught.value.status_code, caught.value.task_id) == (404, "nope")

    @pytest.mark.parametrize("task_id", ["a b", "", "..\x00"], ids=repr)
    def test_bad_id(self, face: Face, task_id: str) -> None:
        """A malformed id is InvalidTaskData."""
        with pytest.raises(InvalidTaskData):
            face.transport.get_task(task_id)

    @pytest.mark.parametrize(
        ("page", "limit"), [(0, 10), (1, 0), (1, 101), (True, 10)], ids=["p0", "l0", "l101", "pb"]
    )
    def test_bad_paging(self, face: Face, page: int, limit: int) -> None:
        """An out-of-range page or limit is InvalidArgument, as over HTTP."""
        with pytest.raises(InvalidArgument):
            face.transport.list_tasks(page=page, limit=limit)

    def test_fail_next_times_and_verbs(self, face: Face, remote: InMemoryTransport) -> None:
        """fail_next(times=2, on='get_status') fails two status reads and nothing else."""
        remote.add_task("t")
        face.transport.fail_next(RateLimited("x"), times=2, on="get_status")
        assert face.transport.get_task("t").status is TaskStatus.RUNNING
        for _ in range(2):
            with pytest.raises(RateLimited):
                face.transport.get_status("t")
        assert face.transport.get_status("t") is TaskStatus.RUNNING

    def test_fail_next_applied(self, face: Face, remote: InMemoryTransport) -> None:
        """applied=True: the push takes effect, then the error is raised."""
        remote.add_task("t")
        remote.fail_next(ConnectionFailed("x", may_have_reached_server=True), applied=True)
        with pytest.raises(ConnectionFailed):
            face.transport.push("t", Action.PAUSE)
        assert remote.get_status("t") is TaskStatus.PAUSED

    def test_list_tasks_newest_first(self, face: Face, remote: InMemoryTransport) -> None:
        """Pages hold the newest tasks first, with totals."""
        for name in "abc":
            remote.add_task(name)
        page = face.transport.list_tasks(page=1, limit=2)
        assert [t.id for t in page.tasks] == ["c", "b"]
        assert (page.total_pages, page.total_count) == (2, 3)

    def test_closed(self, face: Face) -> None:
        """After close (or the with block) calls raise TransportClosed (a ConnectionFailed)."""
        face.transport.close()
        with pytest.raises(TransportClosed) as caught:
            face.transport.run_task("go")
        assert isinstance(caught.value, ConnectionFailed)


class TestSetStatus:
    def test_a_reachable_status_is_reconciled(self, remote: InMemoryTransport) -> None:
        """running -> finished with 4 steps: the remote Task records a finish (origin remote)."""
        record = remote.add_task("t")
        remote.set_status("t", TaskStatus.FINISHED, steps=4)
        assert (record.task.status, record.task.steps) == (TaskStatus.FINISHED, 4)
        assert [(r.action, r.origin) for r in record.task.history][-1] == (Action.FINISH, "remote")

    @pytest.mark.parametrize(
        ("start", "forced"),
        [(TaskStatus.STOPPED, TaskStatus.RUNNING), (TaskStatus.FINISHED, TaskStatus.PAUSED)],
        ids=["stopped-to-running", "finished-to-paused"],
    )
    def test_any_status_can_be_forced(
        self, remote: InMemoryTransport, start: TaskStatus, forced: TaskStatus
    ) -> None:
        """A jump the table forbids rebuilds the remote task: same id and created_at."""
        record = remote.add_task("t", status=start)
        created = record.task.created_at
        remote.set_status("t", forced)
        rebuilt = remote.tasks["t"].task
        assert (rebuilt.status, rebuilt.created_at) == (forced, created)

    def test_steps_can_be_forced_down(self, remote: InMemoryTransport) -> None:
        """A step count going back rebuilds the task with that count."""
        remote.add_task("t", steps=5)
        remote.set_status("t", TaskStatus.RUNNING, steps=2)
        assert remote.tasks["t"].task.steps == 2

    def test_a_clock_is_used_for_every_record(self) -> None:
        """The transport's clock dates the remote tasks and their records."""
        at = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
        remote = InMemoryTransport(clock=lambda: at)
        task_id = remote.run_task("x")
        assert remote.tasks[task_id].task.created_at == at
        assert isinstance(remote.tasks[task_id].task, Task)
