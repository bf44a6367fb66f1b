"""The transport ports: what the domain needs from a remote, sync and async.

A transport pushes a client action (pause, resume, stop) for a task, reads the remote's view
of a task (the full v1 view, or only its status), lists tasks a page at a time, and creates
tasks (v1 ``run-task``). It raises only ``TransportError`` subclasses (and
``InvalidTaskData`` for arguments refused before any I/O). ``AsyncTransport`` is the same
port with coroutines; it is a separate Protocol, not a flag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Final, Protocol, Self, runtime_checkable

from tasklife.lifecycle import Action, TaskStatus
from tasklife.transports.views import TaskPage, TaskView

__all__ = ["CLIENT_ACTIONS", "AsyncTransport", "Transport"]

CLIENT_ACTIONS: Final = frozenset({Action.PAUSE, Action.RESUME, Action.STOP})
"""The actions a client pushes (``PUT /api/v1/{action}-task``); the others are the remote's."""


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

    def run_task(
        self,
        task: str,
        *,
        llm_model: str | None = None,
        max_agent_steps: int | None = None,
        metadata: Mapping[str, str] | None = None,
        allowed_domains: Sequence[str] | None = None,
        secrets: Mapping[str, str] | None = None,
    ) -> str:
        """Create (and start) a remote task; returns its id."""
        ...

    def close(self) -> None:
        """Release connections; closing twice is harmless."""
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

    async def run_task(
        self,
        task: str,
        *,
        llm_model: str | None = None,
        max_agent_steps: int | None = None,
        metadata: Mapping[str, str] | None = None,
        allowed_domains: Sequence[str] | None = None,
        secrets: Mapping[str, str] | None = None,
    ) -> str:
        """Create (and start) a remote task; returns its id."""
        ...

    async def close(self) -> None:
        """Release connections; closing twice is harmless."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
