"""``RemoteTask`` / ``AsyncRemoteTask``: a local ``Task`` bound to a transport, remote first.

Every client action follows the core's prepare/commit pair:

1. ``Task.prepare(action)`` -- the local guard, no I/O. A refused action (resume of a
   stopped task, ...) raises here and no request is sent; ``stop`` on a task that is
   already terminal is a no-op (returns False) and sends nothing.
2. ``transport.push(task_id, action)`` -- the remote must accept first.
3. ``Task.commit(prepared, origin="local")`` -- only after the remote said yes.

If the push fails, the local task (status, history, version, steps) is exactly as before and
the transport's typed error is raised. Two cases are settled by reading the remote status
first: an *ambiguous* failure (``may_have_reached_server``: a read timeout, a connection
dropped after sending, a 5xx, an unreadable 200) and a *refusal* (``ActionRefused``, e.g.
stop on a task the remote already stopped). If the remote already shows the action's
destination, the action took effect: it is committed with origin ``remote`` and the call
succeeds. Otherwise the original error is raised.

Actions, ``refresh()`` and each poll of ``wait()`` on one ``RemoteTask`` run one at a time
(a lock per remote task), so concurrent callers never race each other: every change the
remote accepted is in the local history, in the remote's order. If the local ``Task`` is
changed directly while a push is in flight, the commit raises ``StaleTransition``: the remote
has the action, the local task kept the other change; ``refresh()`` settles it.

Cancellation (``AsyncRemoteTask``): once a push is sent it runs to its end -- the commit, or
the settling read -- even if the caller is cancelled meanwhile, so the local task matches the
remote without any further call; the caller still sees its ``CancelledError`` (or
``TimeoutError`` from ``asyncio.timeout``/``wait_for``) once it has. Before the push is sent
(waiting for the lock), a cancellation simply ends the call.

The v1 API answers 200 to a ``stop`` on a task it has already finished or failed, so after a
stop is accepted one status read tells how the task really ended: a remote ``finished`` or
``failed`` is reconciled as such (origin ``remote``) rather than recorded as a stop;
``run.status`` says which terminal status the task reached.

``refresh()`` reconciles from the remote view (status along the table's shortest path, each
record with origin ``remote``, and the step counter); ``wait()`` polls until a terminal (or
chosen) status, calling ``on_progress`` with each view it reads, and ends by its ``timeout``
even against a server that answers one byte at a time (its polls get the time left as their
deadline; ``WaitTimeout`` then).

Each of these is one flow (a generator, ``tasklife.transports.flow``) that both classes run.

>>> from tasklife.transports import InMemoryTransport
>>> remote = InMemoryTransport()
>>> run = RemoteTask.create(remote, "find the cheapest flight")
>>> run.status, run.pause(), run.status
(<TaskStatus.RUNNING: 'running'>, True, <TaskStatus.PAUSED: 'paused'>)
>>> [(r.action.value, r.origin) for r in run.task.history]
[('start', 'remote'), ('pause', 'local')]
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any, Final, Generic, TypedDict, TypeVar, Unpack

import attrs

from tasklife.errors import InvalidArgument, TaskLifeError, check_options, seconds
from tasklife.lifecycle import LIFECYCLE, Action, TaskStatus
from tasklife.task import Clock, PreparedTransition, Task, check_id, utc_now
from tasklife.transports.base import AsyncTransport, Transport
from tasklife.transports.flow import Call, Flow, Sleep, adrive, drive, within
from tasklife.v1 import (
    ActionRefused,
    RunTaskOptions,
    TaskView,
    TransportError,
    TransportTimeout,
    WaitTimeout,
)

__all__ = [
    "DEFAULT_WAIT_INTERVAL",
    "DEFAULT_WAIT_TIMEOUT",
    "AsyncRemoteTask",
    "Progress",
    "RemoteTask",
    "WaitOptions",
]

log = logging.getLogger("tasklife.transports")

DEFAULT_WAIT_TIMEOUT: Final = 600.0
"""``wait()`` gives up (``WaitTimeout``) after this many seconds unless told otherwise."""
DEFAULT_WAIT_INTERVAL: Final = 2.0
"""Seconds between two polls in ``wait()``."""

Progress = Callable[[TaskView], object]
"""Called with each task view ``wait()`` reads (status and steps: the caller's progress bar)."""

Until = TaskStatus | Collection[TaskStatus] | None
"""The statuses ``wait()`` returns at (None: any terminal one)."""

TransportT = TypeVar("TransportT")
T = TypeVar("T")


class WaitOptions(TypedDict, total=False):
    """``wait()``'s options: ``timeout`` and ``interval`` in seconds (>= 0), ``on_progress``,
    and ``monotonic`` (the clock the timeout is measured with)."""

    timeout: float
    interval: float
    on_progress: Progress | None
    monotonic: Callable[[], float]


@attrs.frozen
class _Poll:
    """A step of ``wait``: refresh, within ``seconds``."""

    seconds: float


# the flows ------------------------------------------------------------------------------------


def _act(task: Task, action: Action) -> Flow[bool]:
    """Push ``action`` remote first; settle an ambiguous failure or a refusal by a status read."""
    prepared = task.prepare(action)
    if prepared is None:
        return False
    try:
        yield Call("push", (task.id, prepared.action), shield=True)
    except TransportError as error:
        if not (error.may_have_reached_server or isinstance(error, ActionRefused)):
            raise
        try:
            status = yield Call("get_status", (task.id,))
        except TransportError as reading:
            log.debug("could not read the status after %s failed: %s", prepared.action, reading)
            raise error from None
        if status is not prepared.dest:
            raise error from None
        log.info("%s on task %s took effect despite: %s", prepared.action, task.id, error)
        task.commit(prepared, origin="remote", reason=f"confirmed after: {error.message}")
        return True
    if prepared.action is not Action.STOP:
        task.commit(prepared, origin="local")
        return True
    try:
        remote: TaskStatus | None = yield Call("get_status", (task.id,))
    except TransportError as reading:
        log.debug("could not read the status after stop: %s", reading)
        remote = None
    _commit_stop(task, prepared, remote)
    return True


def _commit_stop(task: Task, prepared: PreparedTransition, remote: TaskStatus | None) -> None:
    """Commit an accepted stop, unless the remote says the task had already ended otherwise.

    The v1 API answers 200 to ``stop`` on a task it already finished or failed (stop is
    idempotent), so a 200 alone does not prove the task is stopped. One status read after
    the stop tells: finished or failed remotely is reconciled as such (origin ``remote``)
    instead of recording a stop that never happened there. If that read fails, the accepted
    stop is committed.
    """
    if remote is not None and remote in LIFECYCLE.terminal and remote is not TaskStatus.STOPPED:
        task.reconcile(remote)
    else:
        task.commit(prepared, origin="local")


def _refresh(bound: _Bound[Any], seconds: float | None = None) -> Flow[TaskView]:
    """Read the remote view and reconcile the local task with it."""
    view: TaskView = yield Call("get_task", (bound.task.id,), seconds=seconds)
    bound.task.reconcile(view.status, steps=view.steps)
    bound.view = view
    return view


def _wait(task: Task, until: Until, options: Mapping[str, Any]) -> Flow[TaskStatus]:
    """Poll until the status is wanted, within ``timeout``: every poll gets the time left."""
    check_options(options, WaitOptions.__annotations__, "wait()")
    wanted = _wanted(until)
    timeout = seconds("timeout", options.get("timeout", DEFAULT_WAIT_TIMEOUT), zero=True)
    interval = seconds("interval", options.get("interval", DEFAULT_WAIT_INTERVAL), zero=True)
    on_progress = options.get("on_progress")
    monotonic = options.get("monotonic", time.monotonic)
    deadline = monotonic() + timeout
    while True:
        try:
            view = yield _Poll(max(deadline - monotonic(), 0.0))
        except TransportTimeout:
            if monotonic() < deadline:
                raise
            raise WaitTimeout(task.id, task.status, timeout) from None
        if on_progress is not None:
            on_progress(view)
        if task.status in wanted:
            return task.status
        left = deadline - monotonic()
        if left <= 0:
            raise WaitTimeout(task.id, task.status, timeout)
        yield Sleep(min(interval, left))


def _create(text: str, options: RunTaskOptions, clock: Clock) -> Flow[tuple[Task, TaskView | None]]:
    """run-task, then one read back; a task created remotely is never lost to a failed read."""
    task_id = yield Call("run_task", (text,), options)
    task = Task(task_id, clock=clock)
    try:
        view = yield Call("get_task", (task_id,))
        task.reconcile(view.status, steps=view.steps)
    except TaskLifeError as error:
        log.warning("created task %s but could not read it back: %s", task_id, error)
        return task, None
    return task, view


def _attach(task_id: str, clock: Clock) -> Flow[tuple[Task, TaskView]]:
    """A local task rebuilt from the remote view of ``task_id``."""
    check_id(task_id, "task_id")
    view = yield Call("get_task", (task_id,))
    task = Task(task_id, clock=clock, created_at=view.created_at)
    task.reconcile(view.status, steps=view.steps)
    return task, view


def _wanted(until: Until) -> frozenset[TaskStatus]:
    if until is None:
        return LIFECYCLE.terminal
    statuses = [until] if isinstance(until, str) else until
    try:
        wanted = frozenset(TaskStatus(s) for s in statuses)
    except (TypeError, ValueError):
        raise InvalidArgument("until", f"must be task statuses, not {until!r}") from None
    if not wanted:
        raise InvalidArgument("until", "must name at least one status")
    return wanted


def _call(transport: Any, call: Call) -> Any:
    with within(call.seconds):
        return getattr(transport, call.verb)(*call.args, **call.kwargs)


async def _acall(transport: Any, call: Call) -> Any:
    with within(call.seconds):
        return await getattr(transport, call.verb)(*call.args, **call.kwargs)


# the two shells -------------------------------------------------------------------------------


class _Bound(Generic[TransportT]):
    """A local task, the transport it is bound to, and the last view read from the remote."""

    __slots__ = ("_lock", "task", "transport", "view")

    def __init__(self, transport: TransportT, task: Task, view: TaskView | None = None) -> None:
        self.transport = transport
        self.task = task
        self.view = view  # the last view read from the remote (None until the first read)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.task!r})"

    @property
    def id(self) -> str:
        """The task's id."""
        return self.task.id

    @property
    def status(self) -> TaskStatus:
        """The local status (call ``refresh()`` to catch up with the remote first)."""
        return self.task.status

    @property
    def steps(self) -> int:
        """The local step counter."""
        return self.task.steps


class RemoteTask(_Bound[Transport]):
    """A local ``Task`` whose client actions go to ``transport`` first (module docstring).

    Build one with ``RemoteTask.create(transport, "task text")`` (a new remote task) or
    ``RemoteTask.attach(transport, task_id)`` (an existing one), or wrap a ``Task`` you
    already hold: ``RemoteTask(transport, task)``. The transport is not owned: close it
    yourself (``with BrowserUseTransport() as transport: ...``). Safe to share between threads.
    """

    __slots__ = ()

    def __init__(self, transport: Transport, task: Task, view: TaskView | None = None) -> None:
        super().__init__(transport, task, view)
        self._lock = threading.RLock()

    @classmethod
    def create(
        cls, transport: Transport, text: str, *, clock: Clock = utc_now,
        **options: Unpack[RunTaskOptions],
    ) -> RemoteTask:  # fmt: skip
        """Create a remote task (v1 run-task with ``options``), then read it back once.

        The read that follows is best effort: if it fails, the task is returned in
        ``created`` (its id is known) and a later ``refresh()`` catches up.
        """
        flow = _create(text, options, clock)
        return cls(transport, *drive(flow, functools.partial(_call, transport), time.sleep))

    @classmethod
    def attach(cls, transport: Transport, task_id: str, *, clock: Clock = utc_now) -> RemoteTask:
        """Bind to an existing remote task: a local ``Task`` rebuilt from the remote view.

        The local history is the table's shortest path from ``created`` to the remote
        status, every record with origin ``remote``; ``created_at`` and steps are the remote's.
        """
        flow = _attach(task_id, clock)
        return cls(transport, *drive(flow, functools.partial(_call, transport), time.sleep))

    def pause(self) -> bool:
        """running → paused, on the remote first. True when the status changed."""
        return self.act(Action.PAUSE)

    def resume(self) -> bool:
        """paused → running, on the remote first; a stopped task raises with no request."""
        return self.act(Action.RESUME)

    def stop(self) -> bool:
        """Stop on the remote first; on a task already terminal, False and nothing sent."""
        return self.act(Action.STOP)

    def act(self, action: Action) -> bool:
        """Push ``action`` remote first (see the module docstring); True if the status moved."""
        return self._run(_act(self.task, action))

    def refresh(self) -> TaskView:
        """Read the remote view and reconcile the local task with it (status and steps).

        Raises ``ReconcileConflict`` (changing nothing) when the remote status cannot be
        reached from the local one, e.g. stopped locally but running remotely.
        """
        return self._run(_refresh(self))

    def wait(
        self,
        until: Until = None,
        *,
        sleep: Callable[[float], object] = time.sleep,
        **options: Unpack[WaitOptions],
    ) -> TaskStatus:
        """Poll (``refresh()``) until the status is in ``until`` (default: any terminal one).

        Options: ``timeout`` (seconds, default 600), ``interval`` (seconds between polls,
        default 2), ``on_progress(view)`` (called after each read), ``monotonic`` (the clock).
        A ``paused`` task is polled like any other until ``timeout`` seconds have passed, then
        ``WaitTimeout`` is raised: it never waits forever. Returns the status reached.
        """
        return drive(_wait(self.task, until, options), self._poll, sleep)

    def _poll(self, poll: _Poll) -> TaskView:
        return self._run(_refresh(self, poll.seconds))

    def _run(self, flow: Flow[T]) -> T:
        with self._lock:
            return drive(flow, functools.partial(_call, self.transport), time.sleep)


class AsyncRemoteTask(_Bound[AsyncTransport]):
    """The asyncio twin of ``RemoteTask``: the same API, with coroutines.

    >>> import asyncio
    >>> from tasklife.transports import AsyncInMemoryTransport
    >>> async def demo() -> list[str]:
    ...     async with AsyncInMemoryTransport() as remote:
    ...         run = await AsyncRemoteTask.create(remote, "book a table")
    ...         await run.pause()
    ...         await run.stop()
    ...         return [r.dest.value for r in run.task.history]
    >>> asyncio.run(demo())
    ['running', 'paused', 'stopped']
    """

    __slots__ = ()

    def __init__(self, transport: AsyncTransport, task: Task, view: TaskView | None = None) -> None:
        super().__init__(transport, task, view)
        self._lock = asyncio.Lock()

    @classmethod
    async def create(
        cls, transport: AsyncTransport, text: str, *, clock: Clock = utc_now,
        **options: Unpack[RunTaskOptions],
    ) -> AsyncRemoteTask:  # fmt: skip
        """See ``RemoteTask.create``."""
        flow = _create(text, options, clock)
        call = functools.partial(_acall, transport)
        return cls(transport, *await adrive(flow, call, asyncio.sleep))

    @classmethod
    async def attach(
        cls, transport: AsyncTransport, task_id: str, *, clock: Clock = utc_now
    ) -> AsyncRemoteTask:
        """See ``RemoteTask.attach``."""
        flow = _attach(task_id, clock)
        call = functools.partial(_acall, transport)
        return cls(transport, *await adrive(flow, call, asyncio.sleep))

    async def pause(self) -> bool:
        """See ``RemoteTask.pause``."""
        return await self.act(Action.PAUSE)

    async def resume(self) -> bool:
        """See ``RemoteTask.resume``."""
        return await self.act(Action.RESUME)

    async def stop(self) -> bool:
        """See ``RemoteTask.stop``."""
        return await self.act(Action.STOP)

    async def act(self, action: Action) -> bool:
        """See ``RemoteTask.act`` and, for cancellation, the module docstring."""
        return await self._run(_act(self.task, action))

    async def refresh(self) -> TaskView:
        """See ``RemoteTask.refresh``."""
        return await self._run(_refresh(self))

    async def wait(
        self,
        until: Until = None,
        *,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        **options: Unpack[WaitOptions],
    ) -> TaskStatus:
        """See ``RemoteTask.wait``."""
        return await adrive(_wait(self.task, until, options), self._poll, sleep)

    async def _poll(self, poll: _Poll) -> TaskView:
        return await self._run(_refresh(self, poll.seconds))

    async def _run(self, flow: Flow[T]) -> T:
        async with self._lock:
            return await adrive(flow, functools.partial(_acall, self.transport), asyncio.sleep)
