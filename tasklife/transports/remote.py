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

If the local task moves while a push is in flight (another thread acted on it), the commit
raises ``StaleTransition``: the remote has the action, the local task kept the other change;
``refresh()`` settles it. The v1 API answers 200 to a ``stop`` on a task it has already
finished or failed, so after a stop is accepted one status read tells how the task really
ended: a remote ``finished`` or ``failed`` is reconciled as such (origin ``remote``) rather
than recorded as a stop; ``run.status`` says which terminal status the task reached.

``refresh()`` reconciles from the remote view (status along the table's shortest path, each
record with origin ``remote``, and the step counter); ``wait()`` polls until a terminal (or
chosen) status, with a timeout, calling ``on_progress`` with each view it reads.

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
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Final

from tasklife.errors import InvalidTaskData
from tasklife.lifecycle import Action, TaskStatus
from tasklife.task import Clock, PreparedTransition, Task, check_id, utc_now
from tasklife.transports.base import AsyncTransport, Transport
from tasklife.transports.errors import ActionRefused, TransportError, WaitTimeout
from tasklife.transports.views import TaskView

__all__ = ["DEFAULT_WAIT_INTERVAL", "DEFAULT_WAIT_TIMEOUT", "AsyncRemoteTask", "RemoteTask"]

log = logging.getLogger("tasklife.transports")

DEFAULT_WAIT_TIMEOUT: Final = 600.0
"""``wait()`` gives up (``WaitTimeout``) after this many seconds unless told otherwise."""
DEFAULT_WAIT_INTERVAL: Final = 2.0
"""Seconds between two polls in ``wait()``."""

TERMINAL: Final = frozenset(s for s in TaskStatus if s.is_terminal)

Progress = Callable[[TaskView], object]
"""Called with each task view ``wait()`` reads (status and steps: the caller's progress bar)."""


def _commit_stop(task: Task, prepared: PreparedTransition, remote: TaskStatus | None) -> None:
    """Commit an accepted stop, unless the remote says the task had already ended otherwise.

    The v1 API answers 200 to ``stop`` on a task it already finished or failed (stop is
    idempotent), so a 200 alone does not prove the task is stopped. One status read after
    the stop tells: finished or failed remotely is reconciled as such (origin ``remote``)
    instead of recording a stop that never happened there. If that read fails, the accepted
    stop is committed.
    """
    if remote is not None and remote.is_terminal and remote is not TaskStatus.STOPPED:
        task.reconcile(remote)
    else:
        task.commit(prepared, origin="local")


def _wanted(until: TaskStatus | Collection[TaskStatus] | None) -> frozenset[TaskStatus]:
    if until is None:
        return TERMINAL
    statuses = [until] if isinstance(until, str) else list(until)
    try:
        wanted = frozenset(TaskStatus(s) for s in statuses)
    except ValueError:
        raise InvalidTaskData("until", f"must be task statuses, not {until!r}") from None
    if not wanted:
        raise InvalidTaskData("until", "must name at least one status")
    return wanted


def _wait_args(timeout: float, interval: float) -> None:
    values: tuple[tuple[str, object], ...] = (("timeout", timeout), ("interval", interval))
    for name, value in values:
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise InvalidTaskData(name, f"must be a number >= 0, not {value!r}")


def _settles(error: TransportError) -> bool:
    """True when a failed push is worth checking against the remote status."""
    return error.may_have_reached_server or isinstance(error, ActionRefused)


def _local(task_id: str, view: TaskView, clock: Clock) -> Task:
    """A new local task caught up with ``view`` (its history: remote-origin records)."""
    task = Task(task_id, clock=clock, created_at=view.created_at)
    task.reconcile(view.status, steps=view.steps)
    return task


class RemoteTask:
    """A local ``Task`` whose client actions go to ``transport`` first (module docstring).

    Build one with ``RemoteTask.create(transport, "task text")`` (a new remote task) or
    ``RemoteTask.attach(transport, task_id)`` (an existing one), or wrap a ``Task`` you
    already hold: ``RemoteTask(transport, task)``. The transport is not owned: close it
    yourself (``with BrowserUseTransport() as transport: ...``).
    """

    __slots__ = ("task", "transport", "view")

    def __init__(self, transport: Transport, task: Task, view: TaskView | None = None) -> None:
        self.transport = transport
        self.task = task
        self.view = view  # the last view read from the remote (None until the first read)

    def __repr__(self) -> str:
        return f"RemoteTask({self.task!r})"

    @classmethod
    def create(
        cls,
        transport: Transport,
        text: str,
        *,
        llm_model: str | None = None,
        max_agent_steps: int | None = None,
        metadata: Mapping[str, str] | None = None,
        allowed_domains: Sequence[str] | None = None,
        secrets: Mapping[str, str] | None = None,
        clock: Clock = utc_now,
    ) -> RemoteTask:
        """Create a remote task (v1 run-task), then read it back once.

        The read that follows is best effort: if it fails, the task is returned in
        ``created`` (its id is known) and a later ``refresh()`` catches up.
        """
        task_id = transport.run_task(
            text, llm_model=llm_model, max_agent_steps=max_agent_steps, metadata=metadata,
            allowed_domains=allowed_domains, secrets=secrets,
        )  # fmt: skip
        remote = cls(transport, Task(check_id(task_id), clock=clock))
        try:
            remote.refresh()
        except TransportError as error:
            log.warning("created task %s but could not read it back: %s", task_id, error)
        return remote

    @classmethod
    def attach(cls, transport: Transport, task_id: str, *, clock: Clock = utc_now) -> RemoteTask:
        """Bind to an existing remote task: a local ``Task`` rebuilt from the remote view.

        The local history is the table's shortest path from ``created`` to the remote
        status, every record with origin ``remote``; ``created_at`` and steps are the remote's.
        """
        check_id(task_id, "task_id")
        view = transport.get_task(task_id)
        return cls(transport, _local(task_id, view, clock), view)

    # reading ---------------------------------------------------------------------------

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

    # client actions --------------------------------------------------------------------

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
        prepared = self.task.prepare(action)
        if prepared is None:
            return False
        try:
            self.transport.push(self.task.id, prepared.action)
        except TransportError as error:
            if not _settles(error):
                raise
            self._settle(prepared, error)
            return True
        if prepared.action is Action.STOP:
            try:
                remote: TaskStatus | None = self.transport.get_status(self.task.id)
            except TransportError as reading:
                log.debug("could not read the status after stop: %s", reading)
                remote = None
            _commit_stop(self.task, prepared, remote)
        else:
            self.task.commit(prepared, origin="local")
        return True

    def _settle(self, prepared: PreparedTransition, error: TransportError) -> None:
        try:
            status = self.transport.get_status(self.task.id)
        except TransportError as reading:
            log.debug("could not read the status after %s failed: %s", prepared.action, reading)
            raise error from None
        if status is not prepared.dest:
            raise error
        log.info("%s on task %s took effect despite: %s", prepared.action, self.task.id, error)
        self.task.commit(prepared, origin="remote", reason=f"confirmed after: {error.message}")

    # remote changes --------------------------------------------------------------------

    def refresh(self) -> TaskView:
        """Read the remote view and reconcile the local task with it (status and steps).

        Raises ``ReconcileConflict`` (changing nothing) when the remote status cannot be
        reached from the local one, e.g. stopped locally but running remotely.
        """
        view = self.transport.get_task(self.task.id)
        self.task.reconcile(view.status, steps=view.steps)
        self.view = view
        return view

    def wait(
        self,
        until: TaskStatus | Collection[TaskStatus] | None = None,
        *,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        interval: float = DEFAULT_WAIT_INTERVAL,
        on_progress: Progress | None = None,
        sleep: Callable[[float], object] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> TaskStatus:
        """Poll (``refresh()``) until the status is in ``until`` (default: any terminal one).

        Calls ``on_progress(view)`` after each read. A ``paused`` task is polled like any
        other until ``timeout`` seconds have passed, then ``WaitTimeout`` is raised: it never
        waits forever. Returns the status reached.
        """
        wanted = _wanted(until)
        _wait_args(timeout, interval)
        deadline = monotonic() + timeout
        while True:
            view = self.refresh()
            if on_progress is not None:
                on_progress(view)
            if self.task.status in wanted:
                return self.task.status
            left = deadline - monotonic()
            if left <= 0:
                raise WaitTimeout(self.task.id, self.task.status, timeout)
            sleep(min(interval, left))


class AsyncRemoteTask:
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

    __slots__ = ("task", "transport", "view")

    def __init__(self, transport: AsyncTransport, task: Task, view: TaskView | None = None) -> None:
        self.transport = transport
        self.task = task
        self.view = view

    def __repr__(self) -> str:
        return f"AsyncRemoteTask({self.task!r})"

    @classmethod
    async def create(
        cls,
        transport: AsyncTransport,
        text: str,
        *,
        llm_model: str | None = None,
        max_agent_steps: int | None = None,
        metadata: Mapping[str, str] | None = None,
        allowed_domains: Sequence[str] | None = None,
        secrets: Mapping[str, str] | None = None,
        clock: Clock = utc_now,
    ) -> AsyncRemoteTask:
        """See ``RemoteTask.create``."""
        task_id = await transport.run_task(
            text, llm_model=llm_model, max_agent_steps=max_agent_steps, metadata=metadata,
            allowed_domains=allowed_domains, secrets=secrets,
        )  # fmt: skip
        remote = cls(transport, Task(check_id(task_id), clock=clock))
        try:
            await remote.refresh()
        except TransportError as error:
            log.warning("created task %s but could not read it back: %s", task_id, error)
        return remote

    @classmethod
    async def attach(
        cls, transport: AsyncTransport, task_id: str, *, clock: Clock = utc_now
    ) -> AsyncRemoteTask:
        """See ``RemoteTask.attach``."""
        check_id(task_id, "task_id")
        view = await transport.get_task(task_id)
        return cls(transport, _local(task_id, view, clock), view)

    @property
    def id(self) -> str:
        """The task's id."""
        return self.task.id

    @property
    def status(self) -> TaskStatus:
        """The local status."""
        return self.task.status

    @property
    def steps(self) -> int:
        """The local step counter."""
        return self.task.steps

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
        """See ``RemoteTask.act``."""
        prepared = self.task.prepare(action)
        if prepared is None:
            return False
        try:
            await self.transport.push(self.task.id, prepared.action)
        except TransportError as error:
            if not _settles(error):
                raise
            await self._settle(prepared, error)
            return True
        if prepared.action is Action.STOP:
            try:
                remote: TaskStatus | None = await self.transport.get_status(self.task.id)
            except TransportError as reading:
                log.debug("could not read the status after stop: %s", reading)
                remote = None
            _commit_stop(self.task, prepared, remote)
        else:
            self.task.commit(prepared, origin="local")
        return True

    async def _settle(self, prepared: PreparedTransition, error: TransportError) -> None:
        try:
            status = await self.transport.get_status(self.task.id)
        except TransportError as reading:
            log.debug("could not read the status after %s failed: %s", prepared.action, reading)
            raise error from None
        if status is not prepared.dest:
            raise error
        log.info("%s on task %s took effect despite: %s", prepared.action, self.task.id, error)
        self.task.commit(prepared, origin="remote", reason=f"confirmed after: {error.message}")

    async def refresh(self) -> TaskView:
        """See ``RemoteTask.refresh``."""
        view = await self.transport.get_task(self.task.id)
        self.task.reconcile(view.status, steps=view.steps)
        self.view = view
        return view

    async def wait(
        self,
        until: TaskStatus | Collection[TaskStatus] | None = None,
        *,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        interval: float = DEFAULT_WAIT_INTERVAL,
        on_progress: Progress | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> TaskStatus:
        """See ``RemoteTask.wait``."""
        wanted = _wanted(until)
        _wait_args(timeout, interval)
        deadline = monotonic() + timeout
        while True:
            view = await self.refresh()
            if on_progress is not None:
                on_progress(view)
            if self.task.status in wanted:
                return self.task.status
            left = deadline - monotonic()
            if left <= 0:
                raise WaitTimeout(self.task.id, self.task.status, timeout)
            await sleep(min(interval, left))
