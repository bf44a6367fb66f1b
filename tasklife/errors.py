"""Every error tasklife raises, under one root.

::

    TaskLifeError
    ├── InvalidTaskData (ValueError)      data that cannot describe a task; names the field
    ├── InvalidArgument (ValueError)      an argument that is not task data (a page, a URL, ...)
    ├── TableError (ValueError)           a lifecycle table that is malformed
    ├── InvalidTransition                 the table forbids this action from this status
    │   └── CannotResumeStoppedTask       resume of a stopped task: create a new task instead
    ├── TaskNotRunning                    progress reported for a task that is not running
    ├── TaskConflict                      two views of one task disagree; nothing was changed
    │   ├── StaleTransition               a prepared transition whose task has moved on
    │   ├── ReconcileConflict             a remote status the local task cannot legally reach
    │   └── StoreConflict (StoreError)    tasklife.store: a save based on a stale token
    │       └── TooManyConflicts          transact lost the race on every attempt
    ├── ListenerError                     a listener raised; the transition stays committed
    ├── TransportError                    tasklife.v1 (re-exported by tasklife.transports)
    │   ├── AuthError                     401, 403
    │   ├── TaskNotFound (LookupError)    404; also the server's "no such task for this key"
    │   ├── ActionRefused                 400, 409: the remote refused the action
    │   ├── ValidationFailed (ValueError) 422, with the v1 detail list
    │   ├── RateLimited                   429, with retry_after
    │   ├── ServerError                   5xx
    │   ├── TransportTimeout (TimeoutError)
    │   ├── ConnectionFailed (ConnectionError)
    │   │   └── TransportClosed           the transport was closed here; never retried
    │   └── ProtocolError                 an answer that cannot be read
    ├── WaitTimeout (TimeoutError)        tasklife.v1: wait() ran out of time
    ├── StoreError                        tasklife.store: the store could not do what was asked
    │   ├── TaskNotStored (LookupError)   no task with this id is stored
    │   └── StoreCorruption               a stored row is not a valid task
    ├── WebhookError                      tasklife.webhooks: a delivery that cannot be accepted
    │   ├── InvalidSignature              a header missing or unreadable, or no secret matches
    │   ├── WebhookTooOld                 authentic, but signed outside the tolerance
    │   └── MalformedWebhook (ValueError) the body is not a webhook envelope
    └── ServerNotReady                    tasklife.server: a BackgroundServer did not come up

The branches below ``ListenerError`` live with the modules that raise them (``tasklife.v1``,
``tasklife.store``, ``tasklife.webhooks``, ``tasklife.server``), which import this module,
never the reverse. Every
error carries structured fields beside its message, and no message ever contains a credential.

The checks that turn a bad argument into ``InvalidArgument`` live here too, written once for
every module: ``positive_int`` (a count), ``seconds`` (a timeout, an interval, a delay),
``interval`` (a ``timedelta`` skew or age), ``check_options`` (the keywords of a
``**options``), and ``shown``, how a message quotes a value.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import threading
from collections.abc import Collection, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from tasklife.lifecycle import Action, TaskStatus
    from tasklife.task import TransitionRecord

__all__ = [
    "CannotResumeStoppedTask",
    "InvalidArgument",
    "InvalidTaskData",
    "InvalidTransition",
    "ListenerError",
    "ReconcileConflict",
    "StaleTransition",
    "TableError",
    "TaskConflict",
    "TaskLifeError",
    "TaskNotRunning",
]


class TaskLifeError(Exception):
    """The root of every error tasklife raises.

    Every error pickles (and copies) as a call of its constructor: each parameter of
    ``__init__`` is read back from the attribute of the same name, so an error class keeps each
    argument under its parameter's name and needs no ``__reduce__`` of its own. (A constructor
    that takes ``*args`` or ``**kwargs`` pickles by ``Exception``'s rule instead.)
    """

    def __reduce__(self) -> str | tuple[object, ...]:
        init = type(self).__init__
        if not inspect.isfunction(init):  # no constructor of its own: Exception's rule
            return super().__reduce__()
        parameters = list(inspect.signature(init).parameters.values())[1:]
        if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in parameters):
            return super().__reduce__()  # a subclass's *args or **kwargs: Exception's rule
        args: list[object] = []
        keywords: dict[str, object] = {}
        for parameter in parameters:
            value = getattr(self, parameter.name)
            if parameter.kind is parameter.KEYWORD_ONLY:
                keywords[parameter.name] = value
            else:
                args.append(value)
        return (_rebuilt, (type(self), tuple(args), keywords))


def _rebuilt(
    cls: type[TaskLifeError], args: tuple[object, ...], keywords: dict[str, object]
) -> TaskLifeError:
    """``cls(*args, **keywords)``: what a pickled error is rebuilt with."""
    return cls(*args, **keywords)


def check_options(options: Mapping[str, object], known: Collection[str], of: str) -> None:
    """Raise ``InvalidArgument`` naming the first of ``options`` that is not ``known`` to ``of``
    (the keywords of a ``**options: Unpack[...]`` that the type checker cannot see)."""
    unknown = sorted(set(options).difference(known))
    if unknown:
        listed = ", ".join(sorted(known))
        raise InvalidArgument(unknown[0], f"is not an option of {of} ({listed})")


def shown(value: object) -> str:
    """``value`` as an error message may quote it: short, and never a ``RecursionError`` (a
    deeply nested value) or a ``ValueError`` (an integer too long to print)."""
    if value is None or type(value) is bool:
        return repr(value)
    if type(value) is int:
        if -(10**18) < value < 10**18:
            return repr(value)
        return f"an integer of {value.bit_length()} bits"
    if type(value) is float:
        return repr(value)
    if isinstance(value, str):
        text = str.__str__(value)
        return repr(text) if len(text) <= 64 else f"{text[:60]!r}... ({len(text)} characters)"
    return f"a {type(value).__name__}"


_NO_TIME: Final = timedelta(0)
LONGEST: Final = threading.TIMEOUT_MAX
"""The most seconds the standard library's waits and sleeps take (about 292 years): a longer
timeout or interval would raise ``OverflowError`` deep inside one of them."""


def positive_int(name: str, value: object, *, zero: bool = False, most: int | None = None) -> int:
    """``value`` if it is an ``int`` (exactly: not a ``bool`` nor another subclass), >= 1
    (>= 0 with ``zero``) and <= ``most`` when given; else ``InvalidArgument(name)``."""
    least = 0 if zero else 1
    if type(value) is int and least <= value and (most is None or value <= most):
        return value
    bounds = f">= {least}" if most is None else f"from {least} to {most}"
    raise InvalidArgument(name, f"must be an integer {bounds}, not {shown(value)}")


def seconds(name: str, value: object, *, zero: bool = False, under: float = LONGEST) -> float:
    """``value`` as a ``float`` if it is an ``int`` or a ``float`` (subclasses too, never a
    ``bool``) that ``float()`` can hold, > 0 (>= 0 with ``zero``; -0.0 is read as 0.0) and
    < ``under`` (by default ``LONGEST``, so that every wait and sleep can take it); else
    ``InvalidArgument(name)``. NaN never passes."""
    number = math.nan
    if isinstance(value, int | float) and not isinstance(value, bool):
        with contextlib.suppress(OverflowError):  # an int past the largest float stays NaN
            number = float(value) + 0.0
    if (number >= 0 if zero else number > 0) and number < under:
        return number
    kind = "a finite number" if under == math.inf else "a number"
    bounds = (">= 0" if zero else "> 0") + ("" if under == math.inf else f" and under {under:g}")
    raise InvalidArgument(name, f"must be {kind} of seconds {bounds}, not {shown(value)}")


def interval(name: str, value: object) -> timedelta:
    """``value`` if it is a ``timedelta`` >= 0 (a skew, an age); else ``InvalidArgument(name)``."""
    if isinstance(value, timedelta) and value >= _NO_TIME:
        return value
    quoted = repr(value) if isinstance(value, timedelta) else shown(value)
    raise InvalidArgument(name, f"must be a timedelta >= 0, not {quoted}")


class InvalidTaskData(TaskLifeError, ValueError):
    """Input data that cannot describe a valid task; ``field`` is the path to the bad value."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class InvalidArgument(TaskLifeError, ValueError):
    """An argument that is not task data is out of range or of the wrong kind.

    ``argument`` names it (``page``, ``base_url``, ``step_seconds``, ...); ``problem`` says
    what is wrong. Data that describes a task (an id, a ``to_dict`` field, a clock reading)
    raises ``InvalidTaskData`` instead.
    """

    def __init__(self, argument: str, problem: str) -> None:
        self.argument = argument
        self.problem = problem
        super().__init__(f"{argument}: {problem}")


class TableError(TaskLifeError, ValueError):
    """A lifecycle table is malformed (an unknown name, a terminal status with exits, ...).

    ``tasklife.lifecycle`` checks ``TABLE`` at import, so this reaches only code that builds a
    ``Lifecycle`` from a table of its own.
    """


class InvalidTransition(TaskLifeError):
    """The lifecycle table does not allow ``action`` from the task's current ``status``.

    Nothing was changed: status, history and version are exactly as they were.
    """

    def __init__(
        self, task_id: str, status: TaskStatus, action: Action, allowed: Sequence[Action]
    ) -> None:
        self.task_id = task_id
        self.status = status
        self.action = action
        self.allowed = tuple(allowed)
        super().__init__(self._message())

    def _message(self) -> str:
        if self.status.is_terminal:
            why = f"it is {self.status}, a terminal status that nothing leaves"
        else:
            options = ", ".join(a.value for a in self.allowed)
            why = f"it is {self.status}; allowed from {self.status}: {options}"
        return f"cannot {self.action} task {self.task_id!r}: {why}"


class CannotResumeStoppedTask(InvalidTransition):
    """Resume was asked of a stopped task. Stopping is irreversible: create a new task."""

    def _message(self) -> str:
        return (
            f"cannot resume task {self.task_id!r}: it was stopped, and a stopped task can never "
            "be resumed. Only paused tasks can be resumed; create a new task instead."
        )


class TaskNotRunning(TaskLifeError):
    """Progress (a step) was reported for a task that is not running."""

    def __init__(self, task_id: str, status: TaskStatus) -> None:
        self.task_id = task_id
        self.status = status
        super().__init__(
            f"task {task_id!r} is {status}: steps are only taken while a task is running"
        )


class TaskConflict(TaskLifeError):
    """Two views of the same task disagree in a way tasklife cannot settle; nothing was changed."""


class StaleTransition(TaskConflict):
    """A prepared transition was committed after the task had already moved on."""

    def __init__(self, task_id: str, expected_version: int, actual_version: int) -> None:
        self.task_id = task_id
        self.expected_version = expected_version
        self.actual_version = actual_version
        super().__init__(
            f"task {task_id!r} changed while the transition was in flight "
            f"(prepared at version {expected_version}, now at version {actual_version})"
        )


class ReconcileConflict(TaskConflict):
    """The remote reports a status the local task cannot reach through the lifecycle table."""

    def __init__(self, task_id: str, local: TaskStatus, remote: TaskStatus) -> None:
        self.task_id = task_id
        self.local = local
        self.remote = remote
        super().__init__(
            f"task {task_id!r} is {local} locally but {remote} remotely, and no sequence of "
            f"actions leads from {local} to {remote}; the local task was left unchanged"
        )


class ListenerError(TaskLifeError):
    """One or more listeners raised. The transition in ``record`` is committed regardless.

    Every listener was still called; ``errors`` holds what each failing one raised, in order.
    """

    def __init__(self, record: TransitionRecord, errors: Sequence[Exception]) -> None:
        self.record = record
        self.errors = tuple(errors)
        names = ", ".join(type(e).__name__ for e in self.errors)
        super().__init__(
            f"{len(self.errors)} listener(s) raised ({names}) after {record.action} was "
            f"committed as record {record.seq}; the transition stands"
        )
