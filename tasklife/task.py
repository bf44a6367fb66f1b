"""``Task``: one remote browser-automation task, moved only by the lifecycle table.

A task does no I/O. Each action is checked against the table, executed by the shared
``transitions`` machine, recorded as a frozen ``TransitionRecord`` and then handed to the
listeners. A refused action raises and leaves status, history and version exactly as they
were. Every method that reads or changes a task holds that task's own lock, so many threads
may act on one task; unrelated tasks never wait for each other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, Self, TypeVar, cast

import attrs

from tasklife.errors import (
    InvalidArgument,
    InvalidTaskData,
    ListenerError,
    ReconcileConflict,
    StaleTransition,
    TaskNotRunning,
)
from tasklife.errors import shown as _shown
from tasklife.layout import (
    MAX_ID_LENGTH,
    MAX_REASON_LENGTH,
    SCHEMA_VERSION,
    Origin,
    RecordDict,
    TaskDict,
)
from tasklife.lifecycle import LIFECYCLE, Action, Listener, TaskStatus, subscribed
from tasklife.observation import (
    DEFAULT_SKEW,
    MAX_STEPS,
    Observation,
    ObservationOutcome,
    ObservationResult,
    check_ref,
    check_steps,
    classify,
)

__all__ = [
    "SCHEMA_VERSION",
    "UPGRADES",
    "Clock",
    "Origin",
    "PreparedTransition",
    "Task",
    "TransitionRecord",
    "utc_now",
]


Clock = Callable[[], datetime]
"""A source of timezone-aware datetimes; inject one for tests or replay."""

E = TypeVar("E", Action, TaskStatus)
T = TypeVar("T")

_ORIGINS: Final = frozenset({"local", "remote"})
_ZERO: Final = timedelta(0)
_STATUSES: Final = cast("dict[str, TaskStatus]", TaskStatus._value2member_map_)
_ACTIONS: Final = cast("dict[str, Action]", Action._value2member_map_)


def utc_now() -> datetime:
    """The default clock: the current time in UTC."""
    return datetime.now(UTC)


def check_id(value: object, field: str = "id") -> str:
    """Return ``value`` if it is a valid task id, else raise ``InvalidTaskData`` naming ``field``.

    A task id is a non-empty string of at most 256 printable characters with no whitespace.
    """
    if not isinstance(value, str):
        raise InvalidTaskData(field, f"must be a string, not {type(value).__name__}")
    if not value:
        raise InvalidTaskData(field, "must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidTaskData(
            field, f"must be at most {MAX_ID_LENGTH} characters, not {len(value)}"
        )
    if not value.isprintable() or " " in value:
        raise InvalidTaskData(field, "must not contain whitespace or control characters")
    return value


class _RecordSlots:
    """``TransitionRecord``'s slots, writable: what ``_new_record`` fills before the object
    becomes a ``TransitionRecord`` (the same layout, as it adds no slot of its own)."""

    __slots__ = (
        "__weakref__",
        "action",
        "at",
        "dest",
        "inferred",
        "origin",
        "reason",
        "ref",
        "remote_at",
        "seq",
        "source",
    )  # fmt: skip
    seq: int
    action: Action
    source: TaskStatus
    dest: TaskStatus
    at: datetime
    origin: Origin
    reason: str | None
    remote_at: datetime | None
    ref: str | None
    inferred: bool


@attrs.frozen
class TransitionRecord(_RecordSlots):
    """One applied transition: the ``seq``-th change of a task, from ``source`` to ``dest``.

    ``at`` is when this process committed it (never earlier than the record before). A record
    applied from an observation also keeps the remote's event time ``remote_at`` and the
    observation's ``ref``; ``inferred`` marks a record for a transition the remote was not
    seen to make but must have made to reach what it was seen in.
    """

    seq: int
    action: Action
    source: TaskStatus
    dest: TaskStatus
    at: datetime
    origin: Origin = "local"
    reason: str | None = None
    remote_at: datetime | None = None
    ref: str | None = None
    inferred: bool = False

    def to_dict(self) -> RecordDict:
        """A JSON-safe dict; ``at`` and ``remote_at`` are ISO 8601 strings in UTC."""
        # ``_value_`` is the member's plain str; ``.value`` is a descriptor call costing more.
        remote_at = self.remote_at
        return {
            "seq": self.seq,
            "action": self.action._value_,
            "source": self.source._value_,
            "dest": self.dest._value_,
            "at": self.at.isoformat(),
            "origin": self.origin,
            "reason": self.reason,
            "remote_at": None if remote_at is None else remote_at.isoformat(),
            "ref": self.ref,
            "inferred": self.inferred,
        }


_new: Final = object.__new__


def _new_record(  # noqa: PLR0917 - positional on purpose: the hot path of every action
    seq: int,
    action: Action,
    source: TaskStatus,
    dest: TaskStatus,
    at: datetime,
    origin: Origin,
    reason: str | None,
    remote_at: datetime | None,
    ref: str | None,
    inferred: bool,
) -> TransitionRecord:
    """A ``TransitionRecord`` of validated values, four times cheaper than its ``__init__``.

    attrs' frozen ``__init__`` sets each slot through ``object.__setattr__``; this sets them on
    a writable ``_RecordSlots`` and then makes it a ``TransitionRecord``, which has the same
    layout: the result is an ordinary, frozen ``TransitionRecord`` (tests compare the two).
    """
    record = _new(_RecordSlots)
    record.seq = seq
    record.action = action
    record.source = source
    record.dest = dest
    record.at = at
    record.origin = origin
    record.reason = reason
    record.remote_at = remote_at
    record.ref = ref
    record.inferred = inferred
    record.__class__ = TransitionRecord
    return cast("TransitionRecord", record)


@attrs.frozen
class PreparedTransition:
    """A transition the table allows, not yet applied (see ``Task.prepare``)."""

    task_id: str
    action: Action
    source: TaskStatus
    dest: TaskStatus
    version: int


@attrs.define(init=False, repr=False)
class Task:
    """A browser-automation task and its lifecycle.

    >>> task = Task("task_1")
    >>> task.status, task.version
    (<TaskStatus.CREATED: 'created'>, 0)

    A new task starts in ``created``. Its history is a tuple of ``TransitionRecord``;
    ``version`` is the number of transitions applied so far. ``created_at`` defaults to the
    clock's reading; pass the remote's creation time when the task already exists there.
    """

    _id: str = attrs.field(alias="id")
    _status: TaskStatus = attrs.field(alias="status")
    _steps: int = attrs.field(alias="steps")
    _created_at: datetime = attrs.field(alias="created_at")
    _history: list[TransitionRecord] = attrs.field(alias="history")
    _clock: Clock = attrs.field(eq=False, repr=False)
    _lock: threading.RLock = attrs.field(eq=False, repr=False)
    _listeners: tuple[Listener, ...] = attrs.field(eq=False, repr=False)

    def __init__(
        self, id: str, *, clock: Clock = utc_now, created_at: datetime | None = None
    ) -> None:
        check_id(id)
        self._id = id
        self._status = TaskStatus.CREATED
        self._steps = 0
        self._clock = clock
        self._created_at = (
            self._now() if created_at is None else _timestamp(created_at, "created_at")
        )
        self._history = []
        self._lock = threading.RLock()
        self._listeners = ()

    def __repr__(self) -> str:
        return (
            f"Task(id={self._id!r}, status={self._status.value!r}, "
            f"version={len(self._history)}, steps={self._steps})"
        )

    # reading ---------------------------------------------------------------------------

    @property
    def id(self) -> str:
        """The task's id (read-only)."""
        return self._id

    @property
    def status(self) -> TaskStatus:
        """The current status (read-only: only actions, ``reconcile`` and ``observe`` move it)."""
        return self._status

    @property
    def steps(self) -> int:
        """Steps of progress taken (read-only: ``advance``, ``reconcile``, ``observe``)."""
        return self._steps

    @property
    def created_at(self) -> datetime:
        """When the task was created, in UTC (read-only)."""
        return self._created_at

    @property
    def version(self) -> int:
        """How many transitions have been applied (always ``len(history)``)."""
        return len(self._history)

    @property
    def history(self) -> tuple[TransitionRecord, ...]:
        """Every applied transition, oldest first."""
        with self._lock:
            return tuple(self._history)

    @property
    def is_terminal(self) -> bool:
        """True once the task is stopped, finished or failed."""
        return self._status.is_terminal

    def can(self, action: Action) -> bool:
        """True when ``action`` would change the task's status now."""
        return LIFECYCLE.target(self._status, _enum(Action, _ACTIONS, action, "action")) is not None

    def allowed_actions(self) -> tuple[Action, ...]:
        """The actions the lifecycle table allows from the current status."""
        return LIFECYCLE.allowed_actions(self._status)

    # actions ---------------------------------------------------------------------------

    def start(self) -> bool:
        """created → running. Normally done by the remote service after run-task."""
        return self.apply(Action.START)

    def pause(self) -> bool:
        """running → paused; the step counter is kept."""
        return self.apply(Action.PAUSE)

    def resume(self) -> bool:
        """paused → running, continuing from the step where it was paused.

        Only a paused task can be resumed; a stopped one raises ``CannotResumeStoppedTask``.
        """
        return self.apply(Action.RESUME)

    def stop(self) -> bool:
        """created, running or paused → stopped, irreversibly.

        On a task that is already stopped, finished or failed this does nothing and returns
        False, so ``finally: task.stop()`` is always safe.
        """
        return self.apply(Action.STOP)

    def finish(self) -> bool:
        """running → finished. Normally reported by the remote service."""
        return self.apply(Action.FINISH)

    def fail(self, reason: str | None = None) -> bool:
        """created, running or paused → failed, recording ``reason``."""
        return self.apply(Action.FAIL, reason=reason)

    def apply(self, action: Action, *, origin: Origin = "local", reason: str | None = None) -> bool:
        """Apply ``action``; True if the status changed, False for an idempotent no-op.

        Raises ``InvalidTransition`` (and changes nothing) when the table forbids it.
        """
        if type(action) is not Action:
            action = _enum(Action, _ACTIONS, action, "action")
        with self._lock:
            status = self._status
            if LIFECYCLE.target(status, action) is None:
                return self._refuse(action)
            self._fire(action, status, len(self._history), origin, reason)
            return True

    def prepare(self, action: Action) -> PreparedTransition | None:
        """Check ``action`` against the table without applying it.

        Returns the transition to ``commit`` later, None when the action is an idempotent
        no-op (``stop`` on a terminal task), or raises ``InvalidTransition``. Adapters that
        must hear a remote's answer first use this pair: prepare, ask the remote, commit.
        """
        action = _enum(Action, _ACTIONS, action, "action")
        with self._lock:
            status = self._status
            dest = LIFECYCLE.target(status, action)
            if dest is None:
                self._refuse(action)
                return None
            return PreparedTransition(self._id, action, status, dest, len(self._history))

    def commit(
        self,
        prepared: PreparedTransition,
        *,
        origin: Origin = "local",
        reason: str | None = None,
    ) -> TransitionRecord:
        """Apply a transition from ``prepare``; raises ``StaleTransition`` if the task moved on.

        ``prepared`` may also be built by hand (say, from JSON): it is checked against the
        table first (an ``Action``, the table's source and dest, this task's id and, at its
        version, this task's status), and anything else raises ``InvalidTaskData`` naming the
        field, changing nothing.
        """
        _check_prepared(prepared, self._id)
        with self._lock:
            version = prepared.version
            if version > len(self._history):
                raise InvalidTaskData(
                    "prepared.version",
                    f"must be at most {len(self._history)} (the task's version), "
                    f"not {_shown(version)}",
                )
            if version == len(self._history) and prepared.source is not self._status:
                raise InvalidTaskData(
                    "prepared.source",
                    f"must be {self._status} (the task's status at version {version}), "
                    f"not {prepared.source}",
                )
            return self._fire(prepared.action, prepared.source, version, origin, reason)

    def advance(self, by: int = 1) -> int:
        """Count ``by`` more steps of progress; only a running task makes progress."""
        if type(by) is not int or by < 1:
            raise InvalidTaskData("by", f"must be a positive integer, not {_shown(by)}")
        with self._lock:
            if self._status is not TaskStatus.RUNNING:
                raise TaskNotRunning(self._id, self._status)
            if self._steps + by > MAX_STEPS:
                raise InvalidTaskData("by", f"would take steps beyond {MAX_STEPS}")
            self._steps += by
            return self._steps

    def reconcile(
        self, remote: TaskStatus, *, steps: int | None = None
    ) -> tuple[TransitionRecord, ...]:
        """Catch up with a status observed on the remote, along the table's shortest path.

        Each applied transition is recorded with origin ``remote``. A status the task cannot
        reach (stopped locally, running remotely) raises ``ReconcileConflict`` and changes
        nothing. ``steps``, when given, raises the step counter to the remote's count; steps
        never go backwards.
        """
        remote = _enum(TaskStatus, _STATUSES, remote, "remote")
        if steps is not None:
            check_steps(steps)
            if steps and remote is LIFECYCLE.initial:
                raise InvalidTaskData("steps", f"a {remote} task has taken no steps")
        with self._lock:
            path = LIFECYCLE.path(self._status, remote, ran=bool(steps))
            if path is None:
                raise ReconcileConflict(self._id, self._status, remote)
            if steps is not None and steps > self._steps and self._will_have_run(path):
                self._steps = steps
            return self._walk(path)

    def observe(
        self, observation: Observation, *, skew: timedelta = DEFAULT_SKEW
    ) -> ObservationResult:
        """Apply a status seen on the remote, unless it is a duplicate, stale or a conflict.

        The rules, in order (``ObservationResult.outcome`` says which applied):

        - ``DUPLICATE``: the observation's ``ref`` is already in the history, or the task is
          already in that status (unless the observation brings a higher step count:
          ``APPLIED``, with no record), or it reached that status at or after the
          observation's time (a record's ``remote_at``, else its ``at``; inferred records
          do not count: when the remote made them is unknown). Nothing changes.
        - ``APPLIED`` for a forward move (from ``created`` to anything, from running or
          paused to a terminal status): the table's shortest path is applied with origin
          ``remote``; the records for statuses the remote was not seen in are ``inferred``,
          the last one carries ``remote_at`` and ``ref``. Steps > 0 mean the task ran, so
          from ``created`` the path starts with ``start``. ``steps`` only ever rise.
        - ``STALE`` for a move back or sideways (running and paused either way; a
          non-terminal status on a task that moved past it) unless the observation is newer
          than the task's latest change by more than ``skew``. The latest change is the
          newest time among the non-inferred records (a remote record's ``remote_at``, a
          local record's commit time) and ``created_at``. A newer sideways move is
          ``APPLIED``.
        - ``CONFLICT`` for a terminal status other than the task's terminal status, or a
          newer status the table cannot reach: ``conflict`` holds the ``ReconcileConflict``
          (both statuses); nothing changes. To converge on the remote's view, rebuild the
          task with ``Task.from_remote`` and store it in place of this one.

        ``IGNORED`` is never returned here: it is for callers (an unknown event or task).
        A listener that raises still raises ``ListenerError`` after every record is
        committed, as with ``reconcile``.
        """
        if not isinstance(observation, Observation):
            raise InvalidArgument(
                "observation", f"must be an Observation, not {type(observation).__name__}"
            )
        with self._lock:
            verdict = classify(
                observation, task_id=self._id, status=self._status, steps=self._steps,
                created_at=self._created_at, history=self._history, skew=skew,
            )  # fmt: skip
            if verdict.outcome is not ObservationOutcome.APPLIED:
                return ObservationResult(verdict.outcome, conflict=verdict.conflict)
            steps = observation.steps
            if steps is not None and steps > self._steps and self._will_have_run(verdict.path):
                self._steps = steps
            records = self._walk(verdict.path, observation.at, observation.ref)
            return ObservationResult(ObservationOutcome.APPLIED, records)

    @classmethod
    def from_remote(
        cls,
        task_id: str,
        status: TaskStatus,
        *,
        at: datetime,
        steps: int = 0,
        created_at: datetime | None = None,
        ref: str | None = None,
        clock: Clock = utc_now,
    ) -> Self:
        """A task rebuilt from the remote's view: ``status`` seen at the remote's time ``at``.

        Its history is the table's shortest path from ``created`` to ``status`` (through
        ``start`` when ``steps`` > 0), every record of origin ``remote`` and ``inferred``
        but the last, which carries ``remote_at=at`` and ``ref``. The records are stamped
        with one reading of ``clock``. As with ``from_dict``, no listener is called. Store
        it in place of a task whose history disagrees (``tx.replace(task, token=...)``)
        rather than acting on a task that reached a terminal status.
        """
        check_id(task_id)
        status = _enum(TaskStatus, _STATUSES, status, "status")
        remote_at = _timestamp(at, "at")
        check_steps(steps)
        check_ref(ref)
        if steps and status is LIFECYCLE.initial:
            raise InvalidTaskData("steps", f"a {status} task has taken no steps")
        task = cls(task_id, clock=clock, created_at=created_at)
        path = LIFECYCLE.path(LIFECYCLE.initial, status, ran=steps > 0)
        assert path is not None  # noqa: S101 - the table is checked: every status is reachable
        now = max(task._now(), task.created_at)
        history: list[TransitionRecord] = []
        current = LIFECYCLE.initial
        for seq, action in enumerate(path, 1):
            dest = LIFECYCLE.target(current, action)
            assert dest is not None  # noqa: S101 - a path only holds real transitions
            last = seq == len(path)
            history.append(
                _new_record(seq, action, current, dest, now, "remote", None,
                                 remote_at if last else None, ref if last else None, not last)
            )  # fmt: skip
            current = dest
        return cls._assemble(
            task_id, current, steps=steps, created_at=task.created_at, history=history,
            clock=clock,
        )  # fmt: skip

    def _will_have_run(self, path: tuple[Action, ...]) -> bool:
        """True if the task has started, or ``path`` starts it: only then may it hold steps."""
        history = self._history
        return Action.START in path or (bool(history) and history[0].action is Action.START)

    def _walk(
        self,
        path: tuple[Action, ...],
        remote_at: datetime | None = None,
        ref: str | None = None,
    ) -> tuple[TransitionRecord, ...]:
        """Apply ``path`` as the remote's (lock held): every record but the last is inferred.

        Every record is committed before a listener's error is raised (once, at the end).
        """
        records: list[TransitionRecord] = []
        errors: list[Exception] = []
        last = len(path) - 1
        for index, action in enumerate(path):
            status = self._status
            dest = LIFECYCLE.target(status, action)
            assert dest is not None  # noqa: S101 - a path only holds real transitions
            try:
                if index == last:
                    record = self._fire(action, status, len(self._history), "remote", None,
                                        remote_at=remote_at, ref=ref)  # fmt: skip
                else:
                    record = self._fire(action, status, len(self._history), "remote", None,
                                        inferred=True)  # fmt: skip
            except ListenerError as error:
                record = error.record
                errors.extend(error.errors)
            records.append(record)
        if errors:
            raise ListenerError(records[-1], errors)
        return tuple(records)

    # listeners -------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(task, record)`` after each transition of this task is committed.

        Listeners (the lifecycle's first, then the task's) run in commit order while the
        task's lock is held; they may act on the task again. If any raises, the others still
        run and then ``ListenerError`` is raised: the transition itself stays committed.
        Returns a function that unsubscribes.
        """
        return subscribed(self, self._lock, listener)

    # serialization ---------------------------------------------------------------------

    def to_dict(self) -> TaskDict:
        """A JSON-safe dict that ``Task.from_dict`` turns back into an equal task.

        Its layout is ``tasklife.layout.TaskDict`` (JSON Schema: ``tasklife/task.schema.json``).
        """
        with self._lock:
            whole = self.head()  # a fresh dict: history goes last, without a copy
            whole["history"] = [r.to_dict() for r in self._history]
            return cast("TaskDict", whole)

    def head(self) -> dict[str, Any]:
        """``to_dict()`` without ``history``: what a store keeps beside the records (it reads
        no record)."""
        with self._lock:
            return {
                "schema_version": SCHEMA_VERSION,
                "id": self._id,
                "status": self._status._value_,
                "version": len(self._history),
                "steps": self._steps,
                "created_at": self._created_at.isoformat(),
            }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, clock: Clock = utc_now) -> Self:
        """Rehydrate and validate a task written by ``to_dict``.

        Anything wrong (a missing key, a wrong type, an unknown status, a history that does
        not chain from ``created`` through legal transitions to ``status``, a version that is
        not the history's length) raises ``InvalidTaskData`` naming the field's path.
        An older layout (``schema_version`` below ``SCHEMA_VERSION``) is first brought up to
        date through the steps registered in ``UPGRADES``.
        """
        if type(data) is not dict or data.get("schema_version") != SCHEMA_VERSION:
            if not isinstance(data, Mapping):
                raise InvalidTaskData("$", f"must be a mapping, not {type(data).__name__}")
            data = _upgrade(data)
        if type(data) is dict:
            task = _load_plain(cls, data, clock)
            if task is not None:
                return task
        if _field(data, "schema_version", int, "") != SCHEMA_VERSION:
            raise InvalidTaskData("schema_version", f"must be {SCHEMA_VERSION}")
        task_id = check_id(_field(data, "id", str, ""))
        status = _enum(TaskStatus, _STATUSES, _field(data, "status", str, ""), "status")
        version = _field(data, "version", int, "")
        steps = check_steps(_field(data, "steps", int, ""))
        created_at = _stamp(data, "created_at", "")
        raw_history = _field(data, "history", list, "")
        history = [_record(raw, i) for i, raw in enumerate(raw_history)]
        _check_chain(history, status, version, created_at)
        if steps and not any(record.action is Action.START for record in history):
            raise InvalidTaskData("steps", "must be 0: the history holds no start (steps > 0 "
                                  "mean the task ran)")  # fmt: skip
        return cls._assemble(
            task_id, status, steps=steps, created_at=created_at, history=history, clock=clock
        )

    @classmethod
    def _assemble(
        cls,
        task_id: str,
        status: TaskStatus,
        *,
        steps: int,
        created_at: datetime,
        history: list[TransitionRecord],
        clock: Clock,
    ) -> Self:
        """A task from parts that were already validated (by ``from_dict``)."""
        task = cls.__new__(cls)
        task._id = task_id
        task._status = status
        task._steps = steps
        task._created_at = created_at
        task._history = history
        task._clock = clock
        task._lock = threading.RLock()
        task._listeners = ()
        return task

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.to_dict()))

    # internals -------------------------------------------------------------------------

    def _now(self) -> datetime:
        at: object = self._clock()
        if type(at) is datetime and at.tzinfo is UTC:  # the default clock's answer, as is
            return at
        if not isinstance(at, datetime) or at.utcoffset() is None:
            raise InvalidTaskData("clock", f"must return an aware datetime, not {at!r}")
        try:
            return at if at.utcoffset() == _ZERO and at.tzinfo is UTC else at.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC equivalent
            raise InvalidTaskData(
                "clock", f"returned {at!r}, which has no UTC equivalent"
            ) from None

    def _refuse(self, action: Action) -> Literal[False]:
        """False for ``stop`` on a terminal task (a no-op); otherwise raise the table's refusal."""
        error = LIFECYCLE.refusal(self._id, self._status, action)
        if error is None:
            return False
        raise error

    def _fire(
        self,
        action: Action,
        source: TaskStatus,
        version: int,
        origin: Origin,
        reason: str | None,
        *,
        remote_at: datetime | None = None,
        ref: str | None = None,
        inferred: bool = False,
    ) -> TransitionRecord:
        """Run ``action`` through the lifecycle machine, then tell the listeners (lock held)."""
        if type(cast("object", origin)) is not str or origin not in _ORIGINS:
            raise InvalidTaskData("origin", f"must be 'local' or 'remote', not {_shown(origin)}")
        if reason is not None and (
            not isinstance(cast("object", reason), str) or len(reason) > MAX_REASON_LENGTH
        ):
            raise InvalidTaskData(
                "reason", f"must be a string of at most {MAX_REASON_LENGTH} characters or None, "
                f"not {_shown(reason)}",
            )  # fmt: skip
        at = self._now()
        history = self._history
        floor = history[-1].at if history else self._created_at
        at = max(at, floor)  # a clock that went back: records stay in time order
        details = {"action": action, "source": source, "version": version, "at": at,
                   "origin": origin, "reason": reason, "remote_at": remote_at, "ref": ref,
                   "inferred": inferred}  # fmt: skip
        if self._status is not source or not LIFECYCLE.fire(self, action, details):
            raise StaleTransition(self._id, version, len(self._history))
        record = self._history[-1]
        if LIFECYCLE.listeners or self._listeners:
            self._notify(record)
        return record

    def _committed(self, details: Mapping[str, Any]) -> None:
        """Called by the lifecycle machine once it has moved ``status``: record the change."""
        record = _new_record(
            len(self._history) + 1,
            details["action"],
            details["source"],
            self._status,
            details["at"],
            details["origin"],
            details["reason"],
            details["remote_at"],
            details["ref"],
            details["inferred"],
        )
        if self._history:
            self._history.append(record)
        else:  # an exact-size list: append would reserve room for four (24 bytes per task)
            self._history = [record]

    def _notify(self, record: TransitionRecord) -> None:
        """Hand ``record`` to every listener, in commit order (lock held).

        A listener that acts on the task again commits a record while this loop runs: that
        record is queued and delivered after the current one has reached every listener, so
        each listener sees seq 1 before seq 2. Errors raised for queued records are raised
        by the outermost call, with its ``record``.
        """
        queues: dict[int, list[TransitionRecord]] = _notifying.__dict__.setdefault("queues", {})
        queue = queues.get(id(self))
        if queue is not None:  # re-entered from a listener: deliver it after the others
            queue.append(record)
            return
        queues[id(self)] = queue = [record]
        errors: list[Exception] = []
        try:
            index = 0
            while index < len(queue):
                current = queue[index]
                index += 1
                for listener in LIFECYCLE.listeners + self._listeners:
                    try:
                        listener(self, current)
                    except Exception as error:  # every listener must still run
                        errors.append(error)
        finally:
            del queues[id(self)]
        if errors:
            raise ListenerError(record, errors)


_notifying: Final = threading.local()
"""Per thread, the records queued for delivery by each task whose listeners it is running (a
task's lock is held meanwhile, so no other thread delivers that task's records)."""

TaskT = TypeVar("TaskT", bound=Task)
_LINKS: Final = {
    (source.value, rule.action.value, rule.dest.value): (rule.action, rule.dest)
    for rule in LIFECYCLE.table
    for source in rule.sources
}
"""Each legal history record's (source, action, dest) strings -> its members."""


def _load_plain(cls: type[TaskT], data: dict[str, Any], clock: Clock) -> TaskT | None:
    """``from_dict``'s fast path for a valid dict of exactly the shape ``to_dict`` writes.

    It accepts only plain ``str``/``int``/``list``/``dict`` values and UTC timestamps, and
    returns None at the first thing it does not like (the full path then validates again
    and raises the precise ``InvalidTaskData``), so it never accepts what the full path
    refuses nor builds anything different from it.
    """
    try:
        task_id = data["id"]
        status = data["status"]
        version = data["version"]
        steps = data["steps"]
        created = data["created_at"]
        raw_history = data["history"]
        schema = data["schema_version"]
        if not (
            type(schema) is int
            and schema == SCHEMA_VERSION
            and type(task_id) is str
            and 0 < len(task_id) <= MAX_ID_LENGTH
            and task_id.isprintable()
            and " " not in task_id
            and type(status) is str
            and type(version) is int
            and type(steps) is int
            and 0 <= steps <= MAX_STEPS
            and type(created) is str
            and type(raw_history) is list
            and version == len(raw_history)
        ):
            return None
        created_at = datetime.fromisoformat(created)
        if created_at.tzinfo is not UTC:
            return None
        history: list[TransitionRecord] = []
        current = LIFECYCLE.initial
        floor = created_at
        for seq, raw in enumerate(raw_history, 1):
            if type(raw) is not dict:
                return None
            source = raw["source"]
            at = raw["at"]
            origin = raw["origin"]
            reason = raw.get("reason")
            remote_at = raw.get("remote_at")
            ref = raw.get("ref")
            inferred = raw.get("inferred", False)
            link = _LINKS.get((source, raw["action"], raw["dest"]))
            if not (
                link is not None
                and source == current
                and raw["seq"] == seq
                and type(raw["seq"]) is int
                and type(at) is str
                and type(origin) is str
                and origin in _ORIGINS
                and (reason is None or (type(reason) is str and len(reason) <= MAX_REASON_LENGTH))
                and (ref is None or (type(ref) is str and check_ref(ref) is ref))
                and (inferred is False or (inferred is True and origin == "remote"))
            ):
                return None
            stamp = datetime.fromisoformat(at)
            if stamp.tzinfo is not UTC or stamp < floor:
                return None
            floor = stamp
            if remote_at is not None:
                remote_at = datetime.fromisoformat(remote_at)
                if remote_at.tzinfo is not UTC:
                    return None
            where: Origin = "local" if origin == "local" else "remote"
            history.append(
                _new_record(seq, link[0], current, link[1], stamp, where, reason, remote_at,
                                 ref, inferred)
            )  # fmt: skip
            current = link[1]
        if _STATUSES.get(status) is not current:
            return None
        if steps and (not history or history[0].action is not Action.START):
            return None
    except (KeyError, TypeError, ValueError):  # InvalidTaskData is a ValueError
        return None
    return cls._assemble(
        task_id, current, steps=steps, created_at=created_at, history=history, clock=clock
    )


def _v1_to_v2(data: Mapping[str, Any]) -> dict[str, Any]:
    """Layout 1 to 2: records gain ``remote_at`` and ``ref`` (None) and ``inferred`` (False).

    Two rules layout 2 adds are made true of what layout 1 allowed: a record dated before
    the one before it (or before ``created_at``: a clock that went back) takes that earlier
    time, and a task that holds steps but never started (the old ``reconcile`` could write
    one) holds 0 steps. Anything else wrong is left for ``from_dict`` to name.
    """
    upgraded = {**data, "schema_version": 2}
    history = data.get("history")
    if type(history) is list:
        records = [
            {**raw, "remote_at": None, "ref": None, "inferred": False}
            if isinstance(raw, Mapping)
            else raw
            for raw in history
        ]
        floor = _instant(data.get("created_at"))
        for raw in records:
            at = _instant(raw.get("at")) if isinstance(raw, dict) else None
            if at is not None and floor is not None and at < floor:
                raw["at"] = floor.isoformat()
            elif at is not None:
                floor = at
        upgraded["history"] = records
        started = any(isinstance(r, dict) and r.get("action") == "start" for r in records)
        steps = data.get("steps")
        if not started and type(steps) is int and steps > 0:
            upgraded["steps"] = 0
    return upgraded


def _instant(value: object) -> datetime | None:
    """``value`` as an aware UTC datetime, or None when it is not a valid timestamp."""
    try:
        return _timestamp(value, "")
    except InvalidTaskData:
        return None


UPGRADES: Final[Mapping[int, Callable[[Mapping[str, Any]], dict[str, Any]]]] = {1: _v1_to_v2}
"""The registered layout upgrades: ``UPGRADES[n]`` turns a layout ``n`` dict into ``n + 1``."""


def _upgrade(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """``data`` brought to ``SCHEMA_VERSION`` through ``UPGRADES`` (as is when it cannot be)."""
    schema = data.get("schema_version")
    while type(schema) is int and schema in UPGRADES:
        data = UPGRADES[schema](data)
        schema = data.get("schema_version")
    return data


def _check_prepared(prepared: object, task_id: str) -> None:
    """Raise ``InvalidTaskData`` unless ``prepared`` is a transition of the table for the task."""
    if not isinstance(prepared, PreparedTransition):
        raise InvalidTaskData(
            "prepared", f"must be a PreparedTransition, not {type(prepared).__name__}"
        )
    if prepared.task_id != task_id:
        raise InvalidTaskData("prepared.task_id", f"belongs to task {_shown(prepared.task_id)}")
    action, source, dest, version = (
        prepared.action,
        prepared.source,
        prepared.dest,
        prepared.version,
    )
    for name, value, kind in (("action", action, Action), ("source", source, TaskStatus),
                              ("dest", dest, TaskStatus)):  # fmt: skip
        if type(value) is not kind:
            raise InvalidTaskData(
                f"prepared.{name}", f"must be a {kind.__name__}, not {type(value).__name__}"
            )
    if type(version) is not int or version < 0:
        raise InvalidTaskData("prepared.version", f"must be an integer >= 0, not {_shown(version)}")
    target = LIFECYCLE.target(source, action)
    if target is None:
        raise InvalidTaskData("prepared", f"{action} from {source} is not in the table")
    if target is not dest:
        raise InvalidTaskData(
            "prepared.dest", f"must be {target} (where {action} leads from {source}), not {dest}"
        )


def _restore(cls: type[Task], data: Mapping[str, Any]) -> Task:
    return cls.from_dict(data)


def _enum(kind: type[E], members: Mapping[str, E], value: object, field: str) -> E:
    if isinstance(value, kind):
        return value
    member = members.get(value) if isinstance(value, str) else None
    if member is None:
        names = ", ".join(members)
        raise InvalidTaskData(field, f"{_shown(value)} is not a {kind.__name__} (one of: {names})")
    return member


def _field(data: Mapping[str, Any], key: str, kind: type[T], path: str) -> T:
    name = f"{path}{key}"
    try:
        value = data[key]
    except KeyError:
        raise InvalidTaskData(name, "is missing") from None
    # bool is an int subclass, and True is no step count.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidTaskData(name, f"must be {kind.__name__}, not {type(value).__name__}")
    return value


def _stamp(data: Mapping[str, Any], key: str, path: str) -> datetime:
    """The timestamp at ``data[key]``: an ISO 8601 string or an aware ``datetime``, in UTC."""
    try:
        value = data[key]
    except KeyError:
        raise InvalidTaskData(f"{path}{key}", "is missing") from None
    return _timestamp(value, f"{path}{key}")


def _timestamp(value: object, field: str) -> datetime:
    if isinstance(value, datetime):
        at = value
    elif isinstance(value, str):
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidTaskData(field, f"{_shown(value)} is not an ISO 8601 timestamp") from None
    else:
        raise InvalidTaskData(field, f"must be a datetime or a string, not {type(value).__name__}")
    if at.utcoffset() is None:
        raise InvalidTaskData(field, f"{_shown(value)} has no UTC offset")
    try:
        return at if at.tzinfo is UTC else at.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC equivalent
        raise InvalidTaskData(
            field, f"{_shown(value)} is outside the range of UTC datetimes"
        ) from None


def _record(raw: object, index: int) -> TransitionRecord:
    path = f"history[{index}]."
    if not isinstance(raw, Mapping):
        raise InvalidTaskData(path[:-1], f"must be a mapping, not {type(raw).__name__}")
    origin = _field(raw, "origin", str, path)
    if origin not in _ORIGINS:
        raise InvalidTaskData(f"{path}origin", f"must be 'local' or 'remote', not {_shown(origin)}")
    reason = raw.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON_LENGTH):
        raise InvalidTaskData(
            f"{path}reason",
            f"must be a string of at most {MAX_REASON_LENGTH} characters or null, "
            f"not {_shown(reason)}",
        )
    remote_at = None if raw.get("remote_at") is None else _stamp(raw, "remote_at", path)
    ref = check_ref(raw.get("ref"), f"{path}ref")
    inferred = raw.get("inferred", False)
    if type(inferred) is not bool:
        raise InvalidTaskData(f"{path}inferred", f"must be true or false, not {_shown(inferred)}")
    if inferred and origin != "remote":
        raise InvalidTaskData(f"{path}inferred", "only a record of origin 'remote' is inferred")
    return TransitionRecord(
        _field(raw, "seq", int, path),
        _enum(Action, _ACTIONS, _field(raw, "action", str, path), f"{path}action"),
        _enum(TaskStatus, _STATUSES, _field(raw, "source", str, path), f"{path}source"),
        _enum(TaskStatus, _STATUSES, _field(raw, "dest", str, path), f"{path}dest"),
        _stamp(raw, "at", path),
        cast("Origin", origin),
        reason,
        remote_at,
        ref,
        inferred,
    )


def _check_chain(
    history: list[TransitionRecord], status: TaskStatus, version: int, created_at: datetime
) -> None:
    current = LIFECYCLE.initial
    floor, after = created_at, "created_at"
    for index, record in enumerate(history):
        path = f"history[{index}]"
        if record.seq != index + 1:
            raise InvalidTaskData(f"{path}.seq", f"must be {index + 1}, not {_shown(record.seq)}")
        if record.at < floor:
            raise InvalidTaskData(f"{path}.at", f"must not be earlier than {after}")
        floor, after = record.at, f"history[{index}].at"
        if record.source is not current:
            raise InvalidTaskData(
                f"{path}.source", f"must be {current.value} (the previous record's dest)"
            )
        if LIFECYCLE.target(record.source, record.action) is not record.dest:
            raise InvalidTaskData(
                path, f"{record.action} from {record.source} to {record.dest} is not in the table"
            )
        current = record.dest
    if version != len(history):
        raise InvalidTaskData(
            "version", f"must equal the number of history records, {len(history)}"
        )
    if status is not current:
        raise InvalidTaskData("status", f"must be {current.value}, where the history ends")
