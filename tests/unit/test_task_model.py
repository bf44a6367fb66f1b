"""Task against a tiny reference model: any sequence of operations keeps the invariants.

The model below is written independently of ``tasklife.lifecycle``: its own table, its own
shortest-path search. Hypothesis drives both through random sequences of actions,
prepare/commit pairs, reconcile, advance, listeners and to_dict/from_dict round trips, and
after every step checks that they agree and that the invariants hold:

- terminal statuses are absorbing;
- ``version == len(history)``, records numbered 1..n, each record's source the previous dest;
- a refused operation changes nothing (``to_dict()`` identical before and after);
- every listener saw exactly the records committed while it was subscribed.

The default profile runs 100 sequences; ``--hypothesis-profile=deep`` runs 10,000.
"""

from __future__ import annotations

import pickle
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
)
from strategies import (
    REFERENCE_TABLE,
    REFERENCE_TERMINAL,
    actions,
    statuses,
    task_ids,
    ticking_clock,
)

from tasklife import (
    Action,
    CannotResumeStoppedTask,
    InvalidTaskData,
    InvalidTransition,
    ListenerError,
    PreparedTransition,
    ReconcileConflict,
    StaleTransition,
    Task,
    TaskNotRunning,
    TaskStatus,
    TransitionRecord,
)

_ACTION_ORDER = ["start", "pause", "resume", "stop", "finish", "fail"]


def _model_path(source: str, dest: str) -> list[str] | None:
    """Breadth-first search over the reference table, earlier actions first."""
    queue: deque[tuple[str, list[str]]] = deque([(source, [])])
    seen = {source}
    while queue:
        status, path = queue.popleft()
        if status == dest:
            return path
        for action in _ACTION_ORDER:
            nxt = REFERENCE_TABLE.get((status, action))
            if nxt is not None and nxt not in seen:
                seen.add(nxt)
                queue.append((nxt, [*path, action]))
    return None


@attrs.define
class Model:
    """What a task should be: status, steps, history as (action, source, dest, origin, reason,
    inferred)."""

    status: str = "created"
    steps: int = 0
    history: list[tuple[str, str, str, str, str | None, bool]] = attrs.Factory(list)

    def target(self, action: str) -> str | None:
        return REFERENCE_TABLE.get((self.status, action))

    def apply(self, action: str, origin: str, reason: str | None, inferred: bool = False) -> None:
        dest = REFERENCE_TABLE[self.status, action]
        self.history.append((action, self.status, dest, origin, reason, inferred))
        self.status = dest


def _rows(records: tuple[TransitionRecord, ...] | list[TransitionRecord]) -> list[tuple[Any, ...]]:
    return [
        (r.action.value, r.source.value, r.dest.value, r.origin, r.reason, r.inferred)
        for r in records
    ]


reasons = st.none() | st.text(max_size=20)
origins = st.sampled_from(["local", "remote"])


class TaskModelMachine(RuleBasedStateMachine):
    """One ``Task`` and one ``Model``, moved in lockstep."""

    prepared = Bundle("prepared")

    def __init__(self) -> None:
        super().__init__()
        self.task: Task | None = None
        self.model = Model()
        self.first_terminal: str | None = None
        # listener id -> (records it saw, index into the model's history when it subscribed)
        self.seen: dict[int, tuple[list[TransitionRecord], int]] = {}
        self.unsubscribers: dict[int, Any] = {}
        self.failing = 0
        self.next_listener = 0

    # helpers -----------------------------------------------------------------------------

    @property
    def t(self) -> Task:
        assert self.task is not None
        return self.task

    def refused(self, before: Mapping[str, Any], error: type[BaseException], call: Any) -> None:
        """``call()`` raises ``error`` and the task's dict is exactly as before."""
        with pytest.raises(error):
            call()
        assert self.t.to_dict() == before

    def committed(self, call: Any) -> Any:
        """Run a call that commits; with a failing listener subscribed it raises ListenerError."""
        if self.failing:
            with pytest.raises(ListenerError) as info:
                call()
            return info.value.record
        return call()

    # rules -------------------------------------------------------------------------------

    @initialize(task_id=task_ids)
    def create(self, task_id: str) -> None:
        self.task = Task(task_id, clock=ticking_clock())

    @rule(action=actions, origin=origins, reason=reasons)
    def apply(self, action: Action, origin: str, reason: str | None) -> None:
        before = self.t.to_dict()
        if self.model.target(action.value) is not None:
            result = self.committed(
                lambda: self.t.apply(action, origin=origin, reason=reason)  # type: ignore[arg-type]
            )
            assert result is True or isinstance(result, TransitionRecord)
            self.model.apply(action.value, origin, reason)
        elif action is Action.STOP and self.model.status in REFERENCE_TERMINAL:
            assert self.t.stop() is False
            assert self.t.to_dict() == before
        else:
            error = (
                CannotResumeStoppedTask
                if (action, self.model.status) == (Action.RESUME, "stopped")
                else InvalidTransition
            )
            self.refused(before, error, lambda: self.t.apply(action))

    @rule(target=prepared, action=actions)
    def prepare(self, action: Action) -> PreparedTransition | None:
        before = self.t.to_dict()
        if self.model.target(action.value) is None:
            if action is Action.STOP and self.model.status in REFERENCE_TERMINAL:
                assert self.t.prepare(action) is None
            else:
                self.refused(before, InvalidTransition, lambda: self.t.prepare(action))
            return None
        prepared = self.t.prepare(action)
        assert prepared is not None
        assert (prepared.action, prepared.version) == (action, len(self.model.history))
        assert self.t.to_dict() == before
        return prepared

    @rule(prepared=consumes(prepared), origin=origins, reason=reasons)
    def commit(self, prepared: PreparedTransition | None, origin: str, reason: str | None) -> None:
        if prepared is None or prepared.task_id != self.t.id:
            return
        before = self.t.to_dict()
        if prepared.version != len(self.model.history):
            self.refused(
                before,
                StaleTransition,
                lambda: self.t.commit(prepared, origin=origin, reason=reason),  # type: ignore[arg-type]
            )
            return
        record = self.committed(
            lambda: self.t.commit(prepared, origin=origin, reason=reason)  # type: ignore[arg-type]
        )
        self.model.apply(prepared.action.value, origin, reason)
        assert record == self.t.history[-1]

    @rule(remote=statuses, steps=st.none() | st.integers(0, 10_000))
    def reconcile(self, remote: TaskStatus, steps: int | None) -> None:
        before = self.t.to_dict()
        if remote.value == "created" and steps:
            self.refused(before, InvalidTaskData, lambda: self.t.reconcile(remote, steps=steps))
            return
        path = _model_path(self.model.status, remote.value)
        if path and steps and self.model.status == "created" and path[0] != "start":
            path = ["start", *(_model_path("running", remote.value) or [])]  # steps: it ran
        if path is None:
            self.refused(before, ReconcileConflict, lambda: self.t.reconcile(remote, steps=steps))
            return
        if self.failing and path:
            with pytest.raises(ListenerError):
                self.t.reconcile(remote, steps=steps)
            records = self.t.history[len(self.model.history) :]
        else:
            records = self.t.reconcile(remote, steps=steps)
        assert [r.action.value for r in records] == path
        for index, action in enumerate(path, 1):
            self.model.apply(action, "remote", None, inferred=index < len(path))
        if steps is not None and any(row[0] == "start" for row in self.model.history):
            self.model.steps = max(self.model.steps, steps)  # only a task that ran takes steps

    @rule(by=st.integers(-2, 50))
    def advance(self, by: int) -> None:
        before = self.t.to_dict()
        if by < 1:
            self.refused(before, InvalidTaskData, lambda: self.t.advance(by))
        elif self.model.status != "running":
            self.refused(before, TaskNotRunning, lambda: self.t.advance(by))
        else:
            assert self.t.advance(by) == self.model.steps + by
            self.model.steps += by

    @rule(failing=st.booleans())
    def subscribe(self, failing: bool) -> None:
        key = self.next_listener
        self.next_listener += 1
        seen: list[TransitionRecord] = []

        def listener(task: Task, record: TransitionRecord) -> None:
            assert task is self.task
            seen.append(record)
            if failing:
                raise RuntimeError("listener failed on purpose")

        self.seen[key] = (seen, len(self.model.history))
        self.unsubscribers[key] = (self.t.subscribe(listener), failing)
        self.failing += failing

    @precondition(lambda self: bool(self.unsubscribers))
    @rule(data=st.data())
    def unsubscribe(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.unsubscribers)))
        unsubscribe, failing = self.unsubscribers.pop(key)
        unsubscribe()
        self.failing -= failing
        seen, start = self.seen.pop(key)
        assert seen == list(self.t.history[start:])

    @rule(how=st.sampled_from(["dict", "pickle"]))
    def round_trip(self, how: str) -> None:
        data = self.t.to_dict()
        clone = Task.from_dict(data) if how == "dict" else pickle.loads(pickle.dumps(self.t))  # noqa: S301
        assert clone == self.t
        assert clone.to_dict() == data
        # Carry on with the rehydrated task; listeners belong to the old object.
        for key in list(self.unsubscribers):
            self.unsubscribers.pop(key)[0]()
            seen, start = self.seen.pop(key)
            assert seen == list(self.t.history[start:])
        self.failing = 0
        self.task = clone

    # invariants --------------------------------------------------------------------------

    @invariant()
    def agrees_with_model(self) -> None:
        if self.task is None:
            return
        assert self.t.status.value == self.model.status
        assert self.t.steps == self.model.steps
        assert _rows(self.t.history) == self.model.history

    @invariant()
    def version_is_history_length(self) -> None:
        if self.task is not None:
            assert self.t.version == len(self.t.history) == self.t.to_dict()["version"]

    @invariant()
    def history_chains(self) -> None:
        if self.task is None:
            return
        current = TaskStatus.CREATED
        for seq, record in enumerate(self.t.history, 1):
            assert (record.seq, record.source) == (seq, current)
            current = record.dest
        assert current is self.t.status

    @invariant()
    def terminal_is_absorbing(self) -> None:
        if self.task is None:
            return
        if self.first_terminal is not None:
            assert self.t.status.value == self.first_terminal
        elif self.t.is_terminal:
            self.first_terminal = self.t.status.value

    @invariant()
    def listeners_saw_every_record(self) -> None:
        if self.task is None:
            return
        for seen, start in self.seen.values():
            assert seen == list(self.t.history[start:])

    def teardown(self) -> None:
        for unsubscribe, _failing in self.unsubscribers.values():
            unsubscribe()


class TestTaskModel(TaskModelMachine.TestCase):  # type: ignore[misc,valid-type]
    """Random operation sequences: Task and the reference model agree at every step."""


_ANY_OFFSET = st.builds(
    lambda at, minutes: at.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(),
    st.integers(-(24 * 60 - 1), 24 * 60 - 1),
)


class TestClockProperty:
    @given(at=_ANY_OFFSET)
    @example(at=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))))
    @example(at=datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-2))))
    def test_any_aware_clock_reading(self, at: datetime) -> None:
        """Any aware clock reading is recorded in UTC (never before created_at) or refused as
        InvalidTaskData('clock')."""
        task = Task("t", clock=lambda: datetime(2026, 1, 1, tzinfo=UTC))
        before = task.to_dict()
        task._clock = lambda: at  # the clock a caller injected
        try:
            at.astimezone(UTC)
        except OverflowError:  # no UTC equivalent: refused, nothing changed
            with pytest.raises(InvalidTaskData) as info:
                task.start()
            assert info.value.field == "clock"
            assert task.to_dict() == before
            return
        task.start()
        assert task.history[-1].at == max(at, task.created_at)  # an earlier reading is clamped
        assert task.history[-1].at.tzinfo is UTC
