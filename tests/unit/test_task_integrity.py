"""Issue 10, domain: every written promise of ``Task`` holds under hostile input.

Read-only state, ``commit`` of a hand-built ``PreparedTransition``, listeners in commit order
under re-entry, ``from_dict`` bounds, the one steps rule and the clock clamp.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from strategies import T0, ticking_clock

from tasklife import (
    LIFECYCLE,
    Action,
    CannotResumeStoppedTask,
    InvalidTaskData,
    PreparedTransition,
    StaleTransition,
    Task,
    TaskLifeError,
    TaskStatus,
    TransitionRecord,
)

S = TaskStatus
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def deep(depth: int = 100_000) -> list[Any]:
    """A list nested ``depth`` levels deep (built without recursion)."""
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def paused() -> Task:
    task = Task("task_1", clock=ticking_clock())
    task.start()
    task.advance(3)
    task.pause()
    return task


class TestReadOnly:
    @pytest.mark.parametrize(
        ("name", "value"),
        [("status", S.PAUSED), ("steps", -5), ("id", "other"), ("created_at", T0)],
        ids=["status", "steps", "id", "created_at"],
    )
    def test_assignment_fails_and_changes_nothing(self, name: str, value: object) -> None:
        """Assigning a task's state raises AttributeError; the task is unchanged."""
        task = paused()
        before = task.to_dict()
        with pytest.raises(AttributeError):
            setattr(task, name, value)
        assert task.to_dict() == before

    def test_no_resume_of_a_stopped_task_through_assignment(self) -> None:
        """start; stop; status = paused fails, so resume stays refused."""
        task = Task("t")
        task.start()
        task.stop()
        with pytest.raises(AttributeError):
            task.status = S.PAUSED  # type: ignore[misc]
        with pytest.raises(CannotResumeStoppedTask):
            task.resume()
        assert task.status is S.STOPPED


def prepared_in(task: Task, **changes: object) -> PreparedTransition:
    """The transition the task would prepare for pause, with ``changes``."""
    prepared = task.prepare(Action.PAUSE)
    assert prepared is not None
    fields = {
        "task_id": prepared.task_id, "action": prepared.action, "source": prepared.source,
        "dest": prepared.dest, "version": prepared.version, **changes,
    }  # fmt: skip
    return PreparedTransition(**fields)  # type: ignore[arg-type]


class TestCommitChecksThePrepared:
    @pytest.mark.parametrize(
        ("changes", "field"),
        [({"action": Action.RESUME, "dest": S.RUNNING}, "prepared"),
         ({"dest": S.STOPPED}, "prepared.dest"),
         ({"action": "pause"}, "prepared.action"),
         ({"source": S.PAUSED, "action": Action.RESUME, "dest": S.RUNNING}, "prepared.source"),
         ({"source": "running"}, "prepared.source"),
         ({"version": -1}, "prepared.version"),
         ({"version": 10**5000}, "prepared.version"),
         ({"task_id": "other"}, "prepared.task_id")],
        ids=["forbidden", "wrong-dest", "str-action", "wrong-source", "str-source",
             "negative-version", "huge-version", "other-task"],
    )  # fmt: skip
    def test_a_bad_prepared_is_refused_and_changes_nothing(
        self, changes: dict[str, object], field: str
    ) -> None:
        """A hand-built transition the table or the task contradicts raises InvalidTaskData."""
        task = Task("task_1", clock=ticking_clock())
        task.start()
        before = task.to_dict()
        with pytest.raises(InvalidTaskData) as caught:
            task.commit(prepared_in(task, **changes))
        assert caught.value.field == field
        assert isinstance(caught.value, TaskLifeError)
        assert task.to_dict() == before
        assert "now at version" not in str(caught.value)

    def test_not_a_prepared_transition(self) -> None:
        """commit of anything else is InvalidTaskData('prepared')."""
        with pytest.raises(InvalidTaskData) as caught:
            Task("t").commit(("t", "start"))  # type: ignore[arg-type]
        assert caught.value.field == "prepared"

    def test_a_hand_built_valid_transition_commits(self) -> None:
        """A plain value equal to what prepare returns (say, rebuilt from JSON) commits."""
        task = Task("task_1", clock=ticking_clock())
        task.start()
        record = task.commit(PreparedTransition("task_1", Action.PAUSE, S.RUNNING, S.PAUSED, 1))
        assert (record.seq, record.dest) == (2, S.PAUSED)
        json.dumps(task.to_dict())

    def test_a_moved_task_is_still_stale(self) -> None:
        """A valid transition prepared at an older version is StaleTransition, as before."""
        task = Task("task_1", clock=ticking_clock())
        prepared = task.prepare(Action.START)
        assert prepared is not None
        task.stop()
        with pytest.raises(StaleTransition):
            task.commit(prepared)


class TestListenerOrder:
    def test_reentry_keeps_commit_order(self) -> None:
        """When the first listener acts again, every listener still sees seq 1 before seq 2."""
        task = Task("task_1", clock=ticking_clock())
        seen: dict[str, list[int]] = {"first": [], "second": [], "global": []}

        def first(t: Task, record: TransitionRecord) -> None:
            seen["first"].append(record.seq)
            if record.action is Action.START:
                t.pause()

        task.subscribe(first)
        task.subscribe(lambda t, r: seen["second"].append(r.seq))
        unsubscribe = LIFECYCLE.subscribe(lambda t, r: seen["global"].append(r.seq))
        try:
            assert task.start() is True
        finally:
            unsubscribe()
        assert seen == {"first": [1, 2], "second": [1, 2], "global": [1, 2]}
        assert task.status is S.PAUSED

    def test_errors_of_queued_records_are_raised(self) -> None:
        """A listener failing on a record committed by another listener is not silent."""
        task = Task("task_1", clock=ticking_clock())

        def act(t: Task, record: TransitionRecord) -> None:
            if record.action is Action.START:
                t.pause()

        def fail_on_pause(t: Task, record: TransitionRecord) -> None:
            if record.action is Action.PAUSE:
                raise RuntimeError("boom")

        task.subscribe(act)
        task.subscribe(fail_on_pause)
        with pytest.raises(TaskLifeError) as caught:
            task.start()
        assert "RuntimeError" in str(caught.value)
        assert [r.action for r in task.history] == [Action.START, Action.PAUSE]


def valid() -> dict[str, Any]:
    return dict(paused().to_dict())


BOUNDS: list[tuple[str, Callable[[dict[str, Any]], object], str]] = [
    ("deep-reason", lambda d: d["history"][0].update(reason=deep()), "history[0].reason"),
    ("deep-status", lambda d: d.update(status=deep()), "status"),
    ("deep-action", lambda d: d["history"][1].update(action=deep()), "history[1].action"),
    ("deep-origin", lambda d: d["history"][1].update(origin=deep()), "history[1].origin"),
    ("deep-inferred", lambda d: d["history"][1].update(inferred=deep()), "history[1].inferred"),
    ("deep-created-at", lambda d: d.update(created_at=deep()), "created_at"),
    ("huge-steps", lambda d: d.update(steps=10**4400), "steps"),
    ("too-many-steps", lambda d: d.update(steps=10**9 + 1), "steps"),
    ("huge-seq", lambda d: d["history"][1].update(seq=10**4400), "history[1].seq"),
    ("huge-version", lambda d: d.update(version=10**4400), "version"),
    ("before-created", lambda d: d["history"][0].update(at="2000-01-01T00:00:00+00:00"),
     "history[0].at"),
    ("back-in-time", lambda d: d["history"][0].update(at="2026-01-01T00:00:09+00:00"),
     "history[1].at"),
    ("created-with-steps", lambda d: d.update(status="created", version=0, history=[]), "steps"),
    ("long-reason", lambda d: d["history"][0].update(reason="r" * 65_537), "history[0].reason"),
]  # fmt: skip


def _stopped_from_created_with_steps() -> dict[str, Any]:
    task = Task("t", clock=ticking_clock())
    task.stop()
    data: dict[str, Any] = dict(task.to_dict())
    data["steps"] = 7
    return data


class TestFromDictBounds:
    @pytest.mark.parametrize(
        ("change", "field"), [b[1:] for b in BOUNDS], ids=[b[0] for b in BOUNDS]
    )
    def test_hostile_values_are_named(
        self, change: Callable[[dict[str, Any]], object], field: str
    ) -> None:
        """Deep nesting, huge numbers, records out of time order and steps on a task that
        never ran raise InvalidTaskData naming the field (never RecursionError/ValueError)."""
        data = valid()
        change(data)
        with pytest.raises(InvalidTaskData) as caught:
            Task.from_dict(data)
        assert caught.value.field == field
        assert len(str(caught.value)) < 300

    def test_steps_on_a_task_that_never_started(self) -> None:
        """stopped straight from created with steps is refused: steps > 0 mean it ran."""
        with pytest.raises(InvalidTaskData) as caught:
            Task.from_dict(_stopped_from_created_with_steps())
        assert caught.value.field == "steps"

    def test_to_dict_is_always_json(self) -> None:
        """Whatever from_dict accepts, to_dict writes as JSON (no 4,400-digit counts)."""
        data = valid()
        data["steps"] = 10**9
        json.dumps(Task.from_dict(data).to_dict())

    def test_a_layout_1_task_is_healed_not_refused(self) -> None:
        """Layout 1 allowed records out of time order and steps on a never-started task (the
        old reconcile wrote them): such a stored task loads, its times clamped, 0 steps."""
        data = json.loads((FIXTURES / "task_v1.json").read_text(encoding="utf-8"))
        data["history"][2]["at"] = "2026-03-01T08:00:00+00:00"  # before the record before it
        task = Task.from_dict(data)
        assert [r.at for r in task.history][1:3] == [task.history[1].at] * 2
        never_ran = _stopped_from_created_with_steps()
        never_ran["schema_version"] = 1
        for record in never_ran["history"]:
            for key in ("remote_at", "ref", "inferred"):
                del record[key]
        assert Task.from_dict(never_ran).steps == 0


class TestReasonBound:
    def test_a_reason_is_bounded(self) -> None:
        """fail() with a reason over 65,536 characters is InvalidTaskData; nothing changes."""
        task = Task("t", clock=ticking_clock())
        with pytest.raises(InvalidTaskData) as caught:
            task.fail("r" * 65_537)
        assert caught.value.field == "reason"
        assert len(str(caught.value)) < 300
        assert task.version == 0
        assert task.fail("r" * 65_536) is True


class TestActionArguments:
    @pytest.mark.parametrize(
        "origin", [["local"], deep(), "mars", 7], ids=["list", "deep", "mars", "int"]
    )
    def test_a_bad_origin_is_named(self, origin: object) -> None:
        """apply(origin=...) of anything but 'local'/'remote' is InvalidTaskData('origin')."""
        task = Task("t", clock=ticking_clock())
        with pytest.raises(InvalidTaskData) as caught:
            task.apply(Action.START, origin=origin)  # type: ignore[arg-type]
        assert caught.value.field == "origin"
        assert task.version == 0


class TestOneStepsRule:
    def test_reconcile_with_steps_goes_through_running(self) -> None:
        """reconcile(stopped, steps=7) on a created task records start (inferred), then stop."""
        task = Task("t", clock=ticking_clock())
        records = task.reconcile(S.STOPPED, steps=7)
        assert [(r.action, r.inferred) for r in records] == [
            (Action.START, True),
            (Action.STOP, False),
        ]
        assert task.steps == 7
        assert Task.from_dict(task.to_dict()) == task

    def test_no_steps_on_created(self) -> None:
        """reconcile(created, steps > 0) is InvalidTaskData; nothing changes."""
        task = Task("t", clock=ticking_clock())
        with pytest.raises(InvalidTaskData) as caught:
            task.reconcile(S.CREATED, steps=3)
        assert caught.value.field == "steps"
        assert (task.steps, task.version) == (0, 0)

    def test_a_task_that_never_ran_takes_no_steps(self) -> None:
        """A task stopped before it started keeps 0 steps whatever the remote reports."""
        task = Task("t", clock=ticking_clock())
        task.stop()
        assert task.reconcile(S.STOPPED, steps=9) == ()
        assert task.steps == 0
        assert Task.from_dict(task.to_dict()) == task

    def test_attach_with_steps_goes_through_running(self) -> None:
        """A task rebuilt from a remote view with steps ran: from_remote starts it."""
        task = Task.from_remote("t", S.FAILED, at=T0, steps=2, clock=ticking_clock())
        assert [r.action for r in task.history] == [Action.START, Action.FAIL]


class TestClockClamp:
    def test_a_clock_that_goes_back_is_clamped(self) -> None:
        """A reading earlier than the previous record is recorded at the previous record's
        time, so history stays in time order."""
        readings = iter([T0, T0 + timedelta(seconds=10), T0 + timedelta(seconds=5)])
        task = Task("t", clock=lambda: next(readings))
        task.start()
        task.pause()
        assert [r.at for r in task.history] == [T0 + timedelta(seconds=10)] * 2

    def test_records_never_precede_created_at(self) -> None:
        """A created_at later than the clock (the remote's clock ahead) floors every record."""
        later = datetime(2030, 1, 1, tzinfo=UTC)
        task = Task("t", clock=ticking_clock(), created_at=later)
        task.start()
        assert task.history[0].at == later
        assert Task.from_dict(copy.deepcopy(task.to_dict())) == task
