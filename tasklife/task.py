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
    CannotResumeStoppedTask,
    InvalidTaskData,
    InvalidTransition,
    ListenerError,
    ReconcileConflict,
    StaleTransition,
    TaskNotRunning,
)
from tasklife.lifecycle import LIFECYCLE, Action, Listener, TaskStatus

__all__ = [
    "SCHEMA_VERSION",
    "Clock",
    "Origin",
    "PreparedTransition",
    "Task",
    "TransitionRecord",
    "utc_now",
]

SCHEMA_VERSION: Final = 1
"""The version of the dictionary shape written by ``Task.to_dict``."""

MAX_ID_LENGTH: Final = 256

Origin = Literal["local", "remote"]
"""Where a transition was decided: by this process (``local``) or observed on the remote."""

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


@attrs.frozen
class TransitionRecord:
    """One applied transition: the ``seq``-th change of a task, from ``source`` to ``dest``."""

    seq: int
    action: Action
    source: TaskStatus
    dest: TaskStatus
    at: datetime
    origin: Origin = "local"
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict; ``at`` is an ISO 8601 string in UTC."""
        # ``_value_`` is the member's plain str; ``.value`` is a descriptor call costing more.
        return {
            "seq": self.seq,
            "action": self.action._value_,
            "source": self.source._value_,
            "dest": self.dest._value_,
            "at": self.at.isoformat(),
            "origin": self.origin,
            "reason": self.reason,
        }


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

    id: str
    status: TaskStatus
    steps: int
    created_at: datetime
    _history: list[TransitionRecord] = attrs.field(alias="history")
    _clock: Clock = attrs.field(eq=False, repr=False)
    _lock: threading.RLock = attrs.field(eq=False, repr=False)
    _listeners: tuple[Listener, ...] = attrs.field(eq=False, repr=False)

    def __init__(
        self, id: str, *, clock: Clock = utc_now, created_at: datetime | None = None
    ) -> None:
        check_id(id)
        self.id = id
        self.status = TaskStatus.CREATED
        self.steps = 0
        self._clock = clock
        self.created_at = (
            self._now() if created_at is None else _timestamp(created_at, "created_at")
        )
        self._history = []
        self._lock = threading.RLock()
        self._listeners = ()

    def __repr__(self) -> str:
        return (
            f"Task(id={self.id!r}, status={self.status.value!r}, "
            f"version={len(self._history)}, steps={self.steps})"
        )

    # reading ---------------------------------------------------------------------------

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
        return self.status.is_terminal

    def can(self, action: Action) -> bool:
        """True when ``action`` would change the task's status now."""
        return LIFECYCLE.target(self.status, _enum(Action, _ACTIONS, action, "action")) is not None

    def allowed_actions(self) -> tuple[Action, ...]:
        """The actions the lifecycle table allows from the current status."""
        return LIFECYCLE.allowed_actions(self.status)

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
            status = self.status
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
            status = self.status
            dest = LIFECYCLE.target(status, action)
            if dest is None:
                self._refuse(action)
                return None
            return PreparedTransition(self.id, action, status, dest, len(self._history))

    def commit(
        self,
        prepared: PreparedTransition,
        *,
        origin: Origin = "local",
        reason: str | None = None,
    ) -> TransitionRecord:
        """Apply a transition from ``prepare``; raises ``StaleTransition`` if the task moved on."""
        if prepared.task_id != self.id:
            raise InvalidTaskData("prepared.task_id", f"belongs to task {prepared.task_id!r}")
        with self._lock:
            return self._fire(prepared.action, prepared.source, prepared.version, origin, reason)

    def advance(self, by: int = 1) -> int:
        """Count ``by`` more steps of progress; only a running task makes progress."""
        if type(by) is not int or by < 1:
            raise InvalidTaskData("by", f"must be a positive integer, not {by!r}")
        with self._lock:
            if self.status is not TaskStatus.RUNNING:
                raise TaskNotRunning(self.id, self.status)
            self.steps += by
            return self.steps

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
        if steps is not None and (type(steps) is not int or steps < 0):
            raise InvalidTaskData("steps", f"must be a non-negative integer, not {steps!r}")
        with self._lock:
            path = LIFECYCLE.path(self.status, remote)
            if path is None:
                raise ReconcileConflict(self.id, self.status, remote)
            if steps is not None and steps > self.steps:
                self.steps = steps
            records: list[TransitionRecord] = []
            errors: list[ListenerError] = []
            for action in path:
                prepared = self.prepare(action)
                assert prepared is not None  # noqa: S101 - a path only holds real transitions
                try:
                    records.append(self.commit(prepared, origin="remote"))
                except ListenerError as error:
                    records.append(error.record)
                    errors.append(error)
            if errors:
                raise ListenerError(records[-1], [e for err in errors for e in err.errors])
            return tuple(records)

    # listeners -------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(task, record)`` after each transition of this task is committed.

        Listeners (the lifecycle's first, then the task's) run in commit order while the
        task's lock is held; they may act on the task again. If any raises, the others still
        run and then ``ListenerError`` is raised: the transition itself stays committed.
        Returns a function that unsubscribes.
        """
        with self._lock:
            self._listeners = (*self._listeners, listener)

        def unsubscribe() -> None:
            with self._lock:
                self._listeners = tuple(x for x in self._listeners if x is not listener)

        return unsubscribe

    # serialization ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict that ``Task.from_dict`` turns back into an equal task."""
        with self._lock:
            return {
                "schema_version": SCHEMA_VERSION,
                "id": self.id,
                "status": self.status._value_,
                "version": len(self._history),
                "steps": self.steps,
                "created_at": self.created_at.isoformat(),
                "history": [r.to_dict() for r in self._history],
            }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, clock: Clock = utc_now) -> Self:
        """Rehydrate and validate a task written by ``to_dict``.

        Anything wrong (a missing key, a wrong type, an unknown status, a history that does
        not chain from ``created`` through legal transitions to ``status``, a version that is
        not the history's length) raises ``InvalidTaskData`` naming the field's path.
        """
        if type(data) is dict:
            task = _load_plain(cls, data, clock)
            if task is not None:
                return task
        if not isinstance(data, Mapping):
            raise InvalidTaskData("$", f"must be a mapping, not {type(data).__name__}")
        if _field(data, "schema_version", int, "") != SCHEMA_VERSION:
            raise InvalidTaskData("schema_version", f"must be {SCHEMA_VERSION}")
        task_id = check_id(_field(data, "id", str, ""))
        status = _enum(TaskStatus, _STATUSES, _field(data, "status", str, ""), "status")
        version = _field(data, "version", int, "")
        steps = _field(data, "steps", int, "")
        if steps < 0:
            raise InvalidTaskData("steps", "must not be negative")
        created_at = _timestamp(_field(data, "created_at", str, ""), "created_at")
        raw_history = _field(data, "history", list, "")
        history = [_record(raw, i) for i, raw in enumerate(raw_history)]
        _check_chain(history, status, version)
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
        task.id = task_id
        task.status = status
        task.steps = steps
        task.created_at = created_at
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
        """False for ``stop`` on a terminal task (a no-op); otherwise raise the right error."""
        status = self.status
        if action is Action.STOP and status.is_terminal:
            return False
        error = (
            CannotResumeStoppedTask
            if action is Action.RESUME and status is TaskStatus.STOPPED
            else InvalidTransition
        )
        raise error(self.id, status, action, LIFECYCLE.allowed_actions(status))

    def _fire(
        self, action: Action, source: TaskStatus, version: int, origin: Origin, reason: str | None
    ) -> TransitionRecord:
        """Run ``action`` through the lifecycle machine, then tell the listeners (lock held)."""
        if origin not in _ORIGINS:
            raise InvalidTaskData("origin", f"must be 'local' or 'remote', not {origin!r}")
        if reason is not None and not isinstance(reason, str):
            raise InvalidTaskData(
                "reason", f"must be a string or None, not {type(reason).__name__}"
            )
        details = {"action": action, "source": source, "version": version, "at": self._now(),
                   "origin": origin, "reason": reason}  # fmt: skip
        if self.status is not source or not LIFECYCLE.fire(self, action, details):
            raise StaleTransition(self.id, version, len(self._history))
        record = self._history[-1]
        if LIFECYCLE.listeners or self._listeners:
            self._notify(record)
        return record

    def _committed(self, details: Mapping[str, Any]) -> None:
        """Called by the lifecycle machine once it has moved ``status``: record the change."""
        record = TransitionRecord(
            len(self._history) + 1,
            details["action"],
            details["source"],
            self.status,
            details["at"],
            details["origin"],
            details["reason"],
        )
        if self._history:
            self._history.append(record)
        else:  # an exact-size list: append would reserve room for four (24 bytes per task)
            self._history = [record]

    def _notify(self, record: TransitionRecord) -> None:
        errors: list[Exception] = []
        for listener in LIFECYCLE.listeners + self._listeners:
            try:
                listener(self, record)
            except Exception as error:  # every listener must still run
                errors.append(error)
        if errors:
            raise ListenerError(record, errors)


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
            and steps >= 0
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
        for seq, raw in enumerate(raw_history, 1):
            if type(raw) is not dict:
                return None
            source = raw["source"]
            at = raw["at"]
            origin = raw["origin"]
            reason = raw.get("reason")
            link = _LINKS.get((source, raw["action"], raw["dest"]))
            if not (
                link is not None
                and source == current
                and raw["seq"] == seq
                and type(raw["seq"]) is int
                and type(at) is str
                and type(origin) is str
                and origin in _ORIGINS
                and (reason is None or type(reason) is str)
            ):
                return None
            stamp = datetime.fromisoformat(at)
            if stamp.tzinfo is not UTC:
                return None
            where: Origin = "local" if origin == "local" else "remote"
            history.append(TransitionRecord(seq, link[0], current, link[1], stamp, where, reason))
            current = link[1]
        if _STATUSES.get(status) is not current:
            return None
    except (KeyError, TypeError, ValueError):
        return None
    return cls._assemble(
        task_id, current, steps=steps, created_at=created_at, history=history, clock=clock
    )


def _restore(cls: type[Task], data: Mapping[str, Any]) -> Task:
    return cls.from_dict(data)


def _enum(kind: type[E], members: Mapping[str, E], value: object, field: str) -> E:
    if isinstance(value, kind):
        return value
    member = members.get(value) if isinstance(value, str) else None
    if member is None:
        names = ", ".join(members)
        raise InvalidTaskData(field, f"{value!r} is not a {kind.__name__} (one of: {names})")
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


def _timestamp(value: str | datetime, field: str) -> datetime:
    if isinstance(value, datetime):
        at = value
    elif isinstance(value, str):
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidTaskData(field, f"{value!r} is not an ISO 8601 timestamp") from None
    else:
        raise InvalidTaskData(field, f"must be a datetime or a string, not {type(value).__name__}")
    if at.utcoffset() is None:
        raise InvalidTaskData(field, f"{value!r} has no UTC offset")
    try:
        return at if at.tzinfo is UTC else at.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC equivalent
        raise InvalidTaskData(field, f"{value!r} is outside the range of UTC datetimes") from None


def _record(raw: object, index: int) -> TransitionRecord:
    path = f"history[{index}]."
    if not isinstance(raw, Mapping):
        raise InvalidTaskData(path[:-1], f"must be a mapping, not {type(raw).__name__}")
    origin = _field(raw, "origin", str, path)
    if origin not in _ORIGINS:
        raise InvalidTaskData(f"{path}origin", f"must be 'local' or 'remote', not {origin!r}")
    reason = raw.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise InvalidTaskData(f"{path}reason", f"must be a string or null, not {reason!r}")
    return TransitionRecord(
        _field(raw, "seq", int, path),
        _enum(Action, _ACTIONS, _field(raw, "action", str, path), f"{path}action"),
        _enum(TaskStatus, _STATUSES, _field(raw, "source", str, path), f"{path}source"),
        _enum(TaskStatus, _STATUSES, _field(raw, "dest", str, path), f"{path}dest"),
        _timestamp(_field(raw, "at", str, path), f"{path}at"),
        cast("Origin", origin),
        reason,
    )


def _check_chain(history: list[TransitionRecord], status: TaskStatus, version: int) -> None:
    current = LIFECYCLE.initial
    for index, record in enumerate(history):
        path = f"history[{index}]"
        if record.seq != index + 1:
            raise InvalidTaskData(f"{path}.seq", f"must be {index + 1}, not {record.seq}")
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
