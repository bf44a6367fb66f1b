"""InMemoryTransport: the public test double behaves like the v1 service and fails on cue."""

from __future__ import annotations

import pytest

from tasklife import InvalidTaskData, TaskStatus
from tasklife.lifecycle import Action
from tasklife.transports import (
    ActionRefused,
    ConnectionFailed,
    InMemoryTransport,
    RateLimited,
    TaskNotFound,
    Transport,
)


@pytest.fixture
def remote() -> InMemoryTransport:
    """An empty in-memory remote."""
    return InMemoryTransport()


class TestInMemoryTransport:
    def test_is_a_transport(self, remote: InMemoryTransport) -> None:
        """It satisfies the Transport protocol."""
        assert isinstance(remote, Transport)

    def test_run_task_creates_a_running_task(self, remote: InMemoryTransport) -> None:
        """run_task: a new id, running, with the metadata given."""
        task_id = remote.run_task("go", metadata={"a": "b"})
        view = remote.get_task(task_id)
        assert (view.status, view.task, dict(view.metadata)) == (
            TaskStatus.RUNNING,
            "go",
            {"a": "b"},
        )

    def test_pushes_follow_the_table(self, remote: InMemoryTransport) -> None:
        """pause then resume then stop move the remote; each is recorded in pushed."""
        task_id = remote.run_task("go")
        for action in (Action.PAUSE, Action.RESUME, Action.STOP):
            remote.push(task_id, action)
        assert remote.get_status(task_id) is TaskStatus.STOPPED
        assert [a for _, a in remote.pushed] == [Action.PAUSE, Action.RESUME, Action.STOP]

    def test_a_refused_push_is_409(self, remote: InMemoryTransport) -> None:
        """resume of a running task: ActionRefused (409), not recorded."""
        task_id = remote.run_task("go")
        with pytest.raises(ActionRefused) as caught:
            remote.push(task_id, Action.RESUME)
        assert caught.value.status_code == 409
        assert remote.pushed == []

    def test_stop_on_a_terminal_task_is_accepted(self, remote: InMemoryTransport) -> None:
        """stop of a finished task: accepted, nothing changes (as the service does)."""
        remote.add_task("t", status=TaskStatus.FINISHED)
        remote.push("t", Action.STOP)
        assert remote.get_status("t") is TaskStatus.FINISHED

    def test_remote_actions_are_refused(self, remote: InMemoryTransport) -> None:
        """finish cannot be pushed by a client: 400."""
        remote.add_task("t")
        with pytest.raises(ActionRefused):
            remote.push("t", Action.FINISH)

    def test_unknown_task(self, remote: InMemoryTransport) -> None:
        """An unknown id is TaskNotFound (404)."""
        with pytest.raises(TaskNotFound):
            remote.get_status("nope")

    def test_bad_id(self, remote: InMemoryTransport) -> None:
        """A malformed id is InvalidTaskData."""
        with pytest.raises(InvalidTaskData):
            remote.get_task("a b")

    def test_fail_next_times_and_verbs(self, remote: InMemoryTransport) -> None:
        """fail_next(times=2, on='get_status') fails two status reads and nothing else."""
        remote.add_task("t")
        remote.fail_next(RateLimited("x"), times=2, on="get_status")
        assert remote.get_task("t").status is TaskStatus.RUNNING
        for _ in range(2):
            with pytest.raises(RateLimited):
                remote.get_status("t")
        assert remote.get_status("t") is TaskStatus.RUNNING

    def test_fail_next_applied(self, remote: InMemoryTransport) -> None:
        """applied=True: the push takes effect, then the error is raised."""
        remote.add_task("t")
        remote.fail_next(ConnectionFailed("x", may_have_reached_server=True), applied=True)
        with pytest.raises(ConnectionFailed):
            remote.push("t", Action.PAUSE)
        assert remote.get_status("t") is TaskStatus.PAUSED

    def test_list_tasks_newest_first(self, remote: InMemoryTransport) -> None:
        """Pages hold the newest tasks first, with totals."""
        for name in "abc":
            remote.add_task(name)
        page = remote.list_tasks(page=1, limit=2)
        assert [t.id for t in page.tasks] == ["c", "b"]
        assert (page.total_pages, page.total_count) == (2, 3)

    def test_closed(self, remote: InMemoryTransport) -> None:
        """After close (or the with block) calls raise ConnectionFailed."""
        with remote:
            pass
        with pytest.raises(ConnectionFailed):
            remote.run_task("go")
