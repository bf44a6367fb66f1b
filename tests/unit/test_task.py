"""Task: actions, refusals, progress, prepare/commit, reconcile, listeners and threads."""

from __future__ import annotations

import contextlib
import itertools
import pickle
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import TypeAlias

import pytest

from tasklife import (
    LIFECYCLE,
    Action,
    CannotResumeStoppedTask,
    InvalidTaskData,
    InvalidTransition,
    ListenerError,
    ReconcileConflict,
    StaleTransition,
    Task,
    TaskNotRunning,
    TaskStatus,
    TransitionRecord,
)

S: TypeAlias = TaskStatus
A: TypeAlias = Action
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def ticking_clock(start: datetime = T0) -> Callable[[], datetime]:
    """A clock that moves one second per reading."""
    ticks: Iterator[int] = iter(range(10**9))
    return lambda: start + timedelta(seconds=next(ticks))


def task_in(status: S, clock: Callable[[], datetime] | None = None) -> Task:
    """A task brought to ``status`` along the table's shortest path."""
    task = Task("task_1", clock=clock or ticking_clock())
    for action in LIFECYCLE.path(S.CREATED, status) or ():
        task.apply(action)
    assert task.status is status
    return task


class TestNewTask:
    def test_starts_created(self) -> None:
        """A new task is created, at version 0, with no history and no steps."""
        task = Task("task_1", clock=ticking_clock())
        assert (task.status, task.version, task.history, task.steps) == (S.CREATED, 0, (), 0)
        assert task.created_at == T0

    @pytest.mark.parametrize(
        "bad",
        ["", " ", "a b", "a\tb", "a\nb", "nul\x00", "\x7f", "nb\u00a0sp", "x" * 257, 5, None],
        ids=["empty", "space", "inner-space", "tab", "newline", "nul", "del", "nbsp",
             "too-long", "int", "none"],
    )  # fmt: skip
    def test_bad_id_is_refused(self, bad: object) -> None:
        """A bad id raises InvalidTaskData naming the id field."""
        with pytest.raises(InvalidTaskData) as caught:
            Task(bad)  # type: ignore[arg-type]
        assert caught.value.field == "id"

    @pytest.mark.parametrize("good", ["x" * 256, "task_ünïcode", "../x?a=b&c"], ids=str.__len__)
    def test_good_ids(self, good: str) -> None:
        """Up to 256 printable characters without whitespace make an id."""
        assert Task(good).id == good

    def test_created_at_given(self) -> None:
        """created_at may be given (a remote task's creation time); it is stored in UTC."""
        plus_two = timezone(timedelta(hours=2))
        task = Task(
            "task_1", clock=ticking_clock(), created_at=datetime(2026, 1, 1, 2, tzinfo=plus_two)
        )
        assert task.created_at == T0
        assert task.created_at.tzinfo is UTC

    @pytest.mark.parametrize(
        "bad", [datetime(2026, 1, 1), "yesterday", 5], ids=["naive", "text", "int"]
    )
    def test_bad_created_at_is_refused(self, bad: object) -> None:
        """A created_at that is no aware datetime raises InvalidTaskData naming it."""
        with pytest.raises(InvalidTaskData) as caught:
            Task("task_1", created_at=bad)  # type: ignore[arg-type]
        assert caught.value.field == "created_at"

    def test_repr_is_short(self) -> None:
        """The repr names id, status, version and steps, not the whole history."""
        assert repr(task_in(S.PAUSED)) == "Task(id='task_1', status='paused', version=2, steps=0)"


class TestActions:
    @pytest.mark.parametrize(
        ("status", "action", "dest"),
        [
            (S.CREATED, A.START, S.RUNNING),
            (S.RUNNING, A.PAUSE, S.PAUSED),
            (S.PAUSED, A.RESUME, S.RUNNING),
            (S.CREATED, A.STOP, S.STOPPED),
            (S.RUNNING, A.STOP, S.STOPPED),
            (S.PAUSED, A.STOP, S.STOPPED),
            (S.RUNNING, A.FINISH, S.FINISHED),
            (S.CREATED, A.FAIL, S.FAILED),
            (S.RUNNING, A.FAIL, S.FAILED),
            (S.PAUSED, A.FAIL, S.FAILED),
        ],
        ids=str,
    )
    def test_allowed_action_is_recorded(self, status: S, action: A, dest: S) -> None:
        """Each action in the table changes the status and appends one full record."""
        task = task_in(status)
        before = task.version
        assert getattr(task, action.value)() is True
        assert task.status is dest
        assert task.version == before + 1
        assert task.history[-1] == TransitionRecord(
            seq=before + 1, action=action, source=status, dest=dest,
            at=T0 + timedelta(seconds=before + 1), origin="local", reason=None,
        )  # fmt: skip

    @pytest.mark.parametrize("status", [S.STOPPED, S.FINISHED, S.FAILED], ids=str)
    def test_stop_on_terminal_is_a_no_op(self, status: S) -> None:
        """stop on a terminal task returns False and records nothing."""
        task = task_in(status)
        before = task.to_dict()
        assert task.stop() is False
        assert task.to_dict() == before

    @pytest.mark.parametrize(
        ("status", "action"),
        [
            (s, a)
            for s in S
            for a in A
            if LIFECYCLE.target(s, a) is None and not (a is A.STOP and s.is_terminal)
        ],
        ids=str,
    )
    def test_refused_action_changes_nothing(self, status: S, action: A) -> None:
        """An action outside the table raises InvalidTransition and leaves the task as it was."""
        task = task_in(status)
        before = task.to_dict()
        with pytest.raises(InvalidTransition) as caught:
            task.apply(action)
        assert task.to_dict() == before
        error = caught.value
        assert (error.task_id, error.status, error.action) == ("task_1", status, action)
        assert error.allowed == LIFECYCLE.allowed_actions(status)

    def test_resume_of_stopped_task_says_create_a_new_one(self) -> None:
        """Resuming a stopped task raises the named error with the documented message."""
        task = task_in(S.STOPPED)
        with pytest.raises(CannotResumeStoppedTask) as caught:
            task.resume()
        message = str(caught.value)
        assert "was stopped" in message
        assert "Only paused tasks can be resumed" in message
        assert "create a new task instead" in message
        assert isinstance(caught.value, InvalidTransition)

    def test_refusal_names_what_is_allowed(self) -> None:
        """The refusal message says the current status and the actions allowed from it."""
        with pytest.raises(InvalidTransition, match="it is created; allowed from created: start"):
            task_in(S.CREATED).resume()

    def test_fail_records_reason(self) -> None:
        """fail(reason) keeps the reason in the record."""
        task = task_in(S.RUNNING)
        task.fail("browser crashed")
        assert task.history[-1].reason == "browser crashed"

    def test_action_given_as_string(self) -> None:
        """apply accepts the action's API string."""
        task = task_in(S.RUNNING)
        assert task.apply("pause") is True  # type: ignore[arg-type]
        assert task.status is S.PAUSED

    def test_unknown_action_string_is_invalid_data(self) -> None:
        """An unknown action string raises InvalidTaskData naming the action field."""
        task = task_in(S.RUNNING)
        with pytest.raises(InvalidTaskData) as caught:
            task.apply("jump")  # type: ignore[arg-type]
        assert caught.value.field == "action"
        assert task.version == 1

    def test_can_refuses_an_unknown_action(self) -> None:
        """can() names an unknown action as bad data rather than answering False."""
        with pytest.raises(InvalidTaskData, match="action"):
            task_in(S.RUNNING).can("jump")  # type: ignore[arg-type]

    def test_bad_origin_changes_nothing(self) -> None:
        """An origin other than local or remote is refused before anything changes."""
        task = task_in(S.RUNNING)
        with pytest.raises(InvalidTaskData, match="origin"):
            task.apply(A.PAUSE, origin="elsewhere")  # type: ignore[arg-type]
        assert (task.status, task.version) == (S.RUNNING, 1)

    def test_can_and_allowed_actions(self) -> None:
        """can() and allowed_actions() follow the table from the current status."""
        task = task_in(S.PAUSED)
        assert task.allowed_actions() == (A.RESUME, A.STOP, A.FAIL)
        assert task.can(A.RESUME)
        assert not task.can(A.PAUSE)


class TestClock:
    def test_naive_clock_is_refused_and_changes_nothing(self) -> None:
        """A clock that returns a naive datetime raises and the action is not applied."""
        task = task_in(S.RUNNING)
        task._clock = lambda: datetime(2026, 1, 1)
        with pytest.raises(InvalidTaskData, match="clock"):
            task.pause()
        assert (task.status, task.version) == (S.RUNNING, 1)

    def test_other_timezones_are_stored_in_utc(self) -> None:
        """Timestamps from a clock in another timezone are recorded in UTC."""
        plus_two = timezone(timedelta(hours=2))
        task = Task("t", clock=lambda: datetime(2026, 1, 1, 12, tzinfo=plus_two))
        task.start()
        assert task.history[0].at == datetime(2026, 1, 1, 10, tzinfo=UTC)
        assert task.history[0].at.tzinfo is UTC


class TestProgress:
    def test_steps_are_kept_across_pause_and_resume(self) -> None:
        """Resume continues from the step where the task was paused."""
        task = task_in(S.RUNNING)
        task.advance(3)
        task.pause()
        task.resume()
        assert task.advance() == 4

    @pytest.mark.parametrize("status", [S.CREATED, S.PAUSED, S.STOPPED, S.FINISHED], ids=str)
    def test_no_progress_unless_running(self, status: S) -> None:
        """advance() on a task that is not running raises TaskNotRunning."""
        task = task_in(status)
        with pytest.raises(TaskNotRunning):
            task.advance()
        assert task.steps == 0

    @pytest.mark.parametrize("by", [0, -1, True, 1.5], ids=repr)
    def test_bad_step_count(self, by: object) -> None:
        """advance(by) needs a positive integer."""
        with pytest.raises(InvalidTaskData, match="by"):
            task_in(S.RUNNING).advance(by)  # type: ignore[arg-type]

    def test_steps_are_not_transitions(self) -> None:
        """Progress does not change the version."""
        task = task_in(S.RUNNING)
        task.advance(5)
        assert task.version == 1


class TestPrepareCommit:
    def test_prepare_changes_nothing(self) -> None:
        """prepare() checks the table and leaves the task as it was."""
        task = task_in(S.RUNNING)
        before = task.to_dict()
        prepared = task.prepare(A.PAUSE)
        assert prepared is not None
        assert (prepared.source, prepared.dest, prepared.version) == (S.RUNNING, S.PAUSED, 1)
        assert task.to_dict() == before

    def test_commit_applies(self) -> None:
        """commit() applies a prepared transition with the given origin."""
        task = task_in(S.RUNNING)
        prepared = task.prepare(A.PAUSE)
        assert prepared is not None
        record = task.commit(prepared, origin="remote")
        assert (task.status, record.origin, record.seq) == (S.PAUSED, "remote", 2)

    def test_stale_commit_changes_nothing(self) -> None:
        """A prepared transition whose task moved on raises StaleTransition, changing nothing."""
        task = task_in(S.RUNNING)
        prepared = task.prepare(A.STOP)
        assert prepared is not None
        task.pause()
        before = task.to_dict()
        with pytest.raises(StaleTransition) as caught:
            task.commit(prepared)
        assert (caught.value.expected_version, caught.value.actual_version) == (1, 2)
        assert task.to_dict() == before

    def test_prepare_stop_on_terminal_is_none(self) -> None:
        """prepare(stop) on a terminal task returns None: nothing to send, nothing to do."""
        assert task_in(S.FINISHED).prepare(A.STOP) is None

    def test_prepare_refuses_like_apply(self) -> None:
        """prepare() raises the same error apply() would."""
        with pytest.raises(CannotResumeStoppedTask):
            task_in(S.STOPPED).prepare(A.RESUME)

    def test_commit_for_another_task_is_refused(self) -> None:
        """A transition prepared for one task cannot be committed to another."""
        other = Task("other")
        prepared = other.prepare(A.START)
        assert prepared is not None
        task = Task("task_1")
        with pytest.raises(InvalidTaskData, match=r"prepared\.task_id"):
            task.commit(prepared)
        assert task.version == 0


class TestReconcile:
    def test_walks_the_shortest_path_as_remote(self) -> None:
        """A remote status is reached through legal transitions, each with origin remote."""
        task = task_in(S.CREATED)
        records = task.reconcile(S.FINISHED, steps=12)
        assert [(r.action, r.origin) for r in records] == [
            (A.START, "remote"),
            (A.FINISH, "remote"),
        ]
        assert (task.status, task.steps, task.version) == (S.FINISHED, 12, 2)

    def test_same_status_is_a_no_op(self) -> None:
        """Reconciling with the status the task already has records nothing."""
        task = task_in(S.PAUSED)
        assert task.reconcile(S.PAUSED) == ()
        assert task.version == 2

    @pytest.mark.parametrize(
        ("local", "remote"),
        [(S.STOPPED, S.RUNNING), (S.FINISHED, S.PAUSED), (S.RUNNING, S.CREATED)],
        ids=str,
    )
    def test_impossible_jump_conflicts_and_changes_nothing(self, local: S, remote: S) -> None:
        """An unreachable remote status raises ReconcileConflict and changes nothing."""
        task = task_in(local)
        before = task.to_dict()
        with pytest.raises(ReconcileConflict):
            task.reconcile(remote, steps=None if remote is S.CREATED else 99)
        assert task.to_dict() == before

    def test_steps_never_go_backwards(self) -> None:
        """A lower remote step count leaves the local count as it is."""
        task = task_in(S.RUNNING)
        task.advance(10)
        task.reconcile(S.RUNNING, steps=4)
        assert task.steps == 10

    def test_unknown_remote_status_is_invalid_data(self) -> None:
        """A status string outside the API's set raises InvalidTaskData."""
        with pytest.raises(InvalidTaskData, match="remote"):
            task_in(S.RUNNING).reconcile("sleeping")  # type: ignore[arg-type]


class TestListeners:
    def test_task_listener_sees_committed_record(self) -> None:
        """A task listener receives each record after the status has changed."""
        seen: list[tuple[S, TransitionRecord]] = []
        task = task_in(S.RUNNING)
        task.subscribe(lambda t, r: seen.append((t.status, r)))
        task.pause()
        assert seen == [(S.PAUSED, task.history[-1])]

    def test_lifecycle_listeners_run_first_for_every_task(self) -> None:
        """Lifecycle listeners hear every task, before the task's own listeners."""
        order: list[str] = []
        unsubscribe = LIFECYCLE.subscribe(lambda t, r: order.append(f"lifecycle:{t.id}"))
        try:
            task = Task("a")
            task.subscribe(lambda t, r: order.append(f"task:{t.id}"))
            task.start()
            Task("b").start()
        finally:
            unsubscribe()
        assert order == ["lifecycle:a", "task:a", "lifecycle:b"]

    def test_unsubscribe(self) -> None:
        """After unsubscribing, a listener hears nothing more."""
        seen: list[TransitionRecord] = []
        task = task_in(S.RUNNING)
        unsubscribe = task.subscribe(lambda t, r: seen.append(r))
        task.pause()
        unsubscribe()
        task.resume()
        assert len(seen) == 1

    def test_raising_listener_keeps_the_transition(self) -> None:
        """If a listener raises, the others still run and ListenerError reports the commit."""
        seen: list[int] = []

        def broken(task: Task, record: TransitionRecord) -> None:
            raise RuntimeError("outbox down")

        task = task_in(S.RUNNING)
        task.subscribe(broken)
        task.subscribe(lambda t, r: seen.append(r.seq))
        with pytest.raises(ListenerError) as caught:
            task.pause()
        assert task.status is S.PAUSED
        assert seen == [2]
        assert caught.value.record == task.history[-1]
        assert [type(e) for e in caught.value.errors] == [RuntimeError]

    def test_listener_may_act_on_the_task(self) -> None:
        """A listener can apply another action to the same task (the lock is reentrant)."""
        task = task_in(S.RUNNING)

        def stop_when_paused(t: Task, record: TransitionRecord) -> None:
            if record.dest is S.PAUSED:
                t.stop()

        task.subscribe(stop_when_paused)
        task.pause()
        assert [r.action for r in task.history] == [A.START, A.PAUSE, A.STOP]


class TestThreads:
    def test_many_threads_on_one_task_lose_nothing(self) -> None:
        """Threads racing pause/resume on one task never double-apply or lose a record."""
        task = task_in(S.RUNNING)
        applied = [0] * 8
        start = threading.Barrier(len(applied))

        def hammer(slot: int) -> None:
            start.wait()
            for _ in range(500):
                for action in (A.PAUSE, A.RESUME):
                    with contextlib.suppress(InvalidTransition):
                        applied[slot] += task.apply(action)

        threads = [threading.Thread(target=hammer, args=(i,)) for i in range(len(applied))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        history = task.history
        assert task.version == len(history) == 1 + sum(applied)
        assert [r.seq for r in history] == list(range(1, len(history) + 1))
        assert all(a.dest is b.source for a, b in itertools.pairwise(history))


class TestPickle:
    def test_round_trip(self) -> None:
        """A task survives pickling (through its dict form)."""
        task = task_in(S.PAUSED)
        assert pickle.loads(pickle.dumps(task)) == task  # noqa: S301 - our own bytes
