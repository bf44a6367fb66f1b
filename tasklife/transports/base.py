"""The transport ports: what the domain needs from a remote, sync and async.

A transport pushes a client action (pause, resume, stop) for a task, reads the remote's view
of a task (the full v1 view, or only its status), lists tasks a page at a time, and creates
tasks (v1 ``run-task``). It raises only ``TransportError`` subclasses (and ``InvalidTaskData``
or ``InvalidArgument`` for arguments refused before any I/O). ``AsyncTransport`` is the same
port with coroutines; it is a separate Protocol, not a flag. The records and errors are the
v1 contract's (``tasklife.v1``).
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self, Unpack, runtime_checkable

from tasklife.lifecycle import Action, TaskStatus
from tasklife.v1 import CLIENT_ACTIONS, RunTaskOptions, TaskPage, TaskView

__all__ = ["CLIENT_ACTIONS", "AsyncClosing", "AsyncTransport", "Closing", "Transport"]


@runtime_checkable
class Transport(Protocol):
    """A blocking connection to a task service (see the module docstring)."""

    def push(self, task_id: str, action: Action) -> None:
        """Ask the remote to apply ``action`` (pause, resume or stop) to task ``task_id``."""
        ...

    def get_task(self, task_id: str) -> TaskView:
        """The remote's full view of task ``task_id``."""
        ...

    def get_status(self, task_id: str) -> TaskStatus:
        """Only the remote's status of task ``task_id`` (a cheaper read)."""
        ...

    def list_tasks(self, *, page: int = 1, limit: int = 10) -> TaskPage:
        """One page of tasks, newest first."""
        ...

    def run_task(self, task: str, **options: Unpack[RunTaskOptions]) -> str:
        """Create (and start) a remote task; returns its id."""
        ...

    def close(self) -> None:
        """Release connections and refuse further calls; closing twice is harmless."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class AsyncTransport(Protocol):
    """The asyncio twin of ``Transport``: the same verbs as coroutines."""

    async def push(self, task_id: str, action: Action) -> None:
        """Ask the remote to apply ``action`` (pause, resume or stop) to task ``task_id``."""
        ...

    async def get_task(self, task_id: str) -> TaskView:
        """The remote's full view of task ``task_id``."""
        ...

    async def get_status(self, task_id: str) -> TaskStatus:
        """Only the remote's status of task ``task_id``."""
        ...

    async def list_tasks(self, *, page: int = 1, limit: int = 10) -> TaskPage:
        """One page of tasks, newest first."""
        ...

    async def run_task(self, task: str, **options: Unpack[RunTaskOptions]) -> str:
        """Create (and start) a remote task; returns its id."""
        ...

    async def close(self) -> None:
        """Release connections and refuse further calls; closing twice is harmless."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class Closing:
    """For adapters: ``with adapter:`` closes it at the end (it defines ``close()``)."""

    __slots__ = ()

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncClosing:
    """For async adapters: ``async with adapter:`` closes it at the end."""

    __slots__ = ()

    async def close(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
