"""``InMemoryTransport``: a remote kept in memory, for your own tests (no network, no httpx).

It behaves like the v1 service under the lifecycle table: ``run_task`` creates a running
task, pushes move it or are refused (409, ``ActionRefused``) exactly as the service does,
``stop`` on a terminal task is accepted and changes nothing. It records every accepted push
in ``pushed`` and every call in ``calls``, and can be told to fail the next calls with any
``TransportError`` (``fail_next``) -- optionally *after* the call took effect, which is how
an ambiguous failure (a timeout after the remote acted) looks from the client.

>>> from tasklife import Action, TaskStatus
>>> remote = InMemoryTransport()
>>> task_id = remote.run_task("find a flight")
>>> remote.push(task_id, Action.PAUSE)
>>> remote.get_status(task_id), remote.pushed
(<TaskStatus.PAUSED: 'paused'>, [('task_0001', <Action.PAUSE: 'pause'>)])
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import attrs

from tasklife.lifecycle import LIFECYCLE, Action, TaskStatus
from tasklife.task import Clock, check_id, utc_now
from tasklife.transports.base import CLIENT_ACTIONS
from tasklife.transports.errors import (
    ActionRefused,
    ConnectionFailed,
    TaskNotFound,
    TransportError,
)
from tasklife.transports.views import (
    RemoteStep,
    TaskPage,
    TaskSummary,
    TaskView,
    run_task_body,
)

__all__ = ["AsyncInMemoryTransport", "InMemoryTransport", "RemoteRecord"]


@attrs.define
class RemoteRecord:
    """What the in-memory remote knows about one task; tests may change it freely."""

    id: str
    text: str
    status: TaskStatus
    created_at: datetime
    steps: int = 0
    output: str | None = None
    finished_at: datetime | None = None
    metadata: dict[str, str] = attrs.Factory(dict)

    def view(self) -> TaskView:
        """This record as the v1 task view."""
        return TaskView(
            id=self.id,
            status=self.status,
            task=self.text,
            output=self.output,
            created_at=self.created_at,
            finished_at=self.finished_at,
            steps=self.steps,
            step_details=tuple(RemoteStep(step=n) for n in range(1, self.steps + 1)),
            metadata=self.metadata,
        )


@attrs.define
class _Failure:
    error: TransportError
    verbs: frozenset[str] | None
    applied: bool


class InMemoryTransport:
    """A ``Transport`` whose remote lives in this object (see the module docstring)."""

    def __init__(self, *, clock: Clock = utc_now, initial_status: TaskStatus | None = None) -> None:
        """``initial_status`` is what ``run_task`` creates (default ``running``, as v1 does)."""
        self.tasks: dict[str, RemoteRecord] = {}
        self.pushed: list[tuple[str, Action]] = []
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.closed = False
        self._clock = clock
        self._initial = TaskStatus.RUNNING if initial_status is None else initial_status
        self._ids = itertools.count(1)
        self._failures: deque[_Failure] = deque()
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"InMemoryTransport(tasks={len(self.tasks)}, pushed={len(self.pushed)})"

    # test controls ---------------------------------------------------------------------

    def fail_next(
        self,
        error: TransportError,
        *,
        times: int = 1,
        on: str | Sequence[str] | None = None,
        applied: bool = False,
    ) -> None:
        """Make the next ``times`` calls (of the verbs in ``on``, default any) raise ``error``.

        With ``applied=True`` the call takes effect first, then raises: an ambiguous failure.
        """
        verbs = None if on is None else frozenset([on] if isinstance(on, str) else on)
        with self._lock:
            self._failures.extend(_Failure(error, verbs, applied) for _ in range(times))

    def add_task(
        self,
        task_id: str,
        *,
        status: TaskStatus = TaskStatus.RUNNING,
        steps: int = 0,
        text: str = "a task",
    ) -> RemoteRecord:
        """Put a task on the remote as if someone else had created it."""
        record = RemoteRecord(check_id(task_id), text, TaskStatus(status), self._clock(), steps)
        with self._lock:
            self.tasks[task_id] = record
        return record

    def set_status(self, task_id: str, status: TaskStatus, *, steps: int | None = None) -> None:
        """Change the remote's status directly (what the remote service does by itself)."""
        with self._lock:
            record = self._record(task_id)
            record.status = TaskStatus(status)
            if steps is not None:
                record.steps = steps
            if record.status.is_terminal and record.finished_at is None:
                record.finished_at = self._clock()

    # the Transport port ----------------------------------------------------------------

    def push(self, task_id: str, action: Action) -> None:
        """Apply a client action as the v1 service would; 409 when the table refuses it."""
        with self._lock:
            failure = self._take("push", (task_id, action))
            check_id(task_id, "task_id")
            action = Action(action)
            if failure is not None and not failure.applied:
                raise failure.error
            if action not in CLIENT_ACTIONS:
                raise ActionRefused(
                    f"{action} is done by the remote, not pushed",
                    status_code=400,
                    method="PUT",
                    path=f"/api/v1/{action}-task",
                )
            record = self._record(task_id)
            dest = LIFECYCLE.target(record.status, action)
            if dest is not None:
                record.status = dest
                if dest.is_terminal:
                    record.finished_at = self._clock()
            elif not (action is Action.STOP and record.status.is_terminal):
                detail = f"cannot {action} task {task_id!r}: it is {record.status}"
                raise ActionRefused(
                    detail, status_code=409, detail=detail, method="PUT",
                    path=f"/api/v1/{action}-task",
                )  # fmt: skip
            self.pushed.append((task_id, action))
            if failure is not None:
                raise failure.error

    def get_task(self, task_id: str) -> TaskView:
        """The v1 view of the task."""
        with self._lock:
            failure = self._before("get_task", (task_id,))
            view = self._record(check_id(task_id, "task_id")).view()
            self._after(failure)
            return view

    def get_status(self, task_id: str) -> TaskStatus:
        """The task's status."""
        with self._lock:
            failure = self._before("get_status", (task_id,))
            status = self._record(check_id(task_id, "task_id")).status
            self._after(failure)
            return status

    def list_tasks(self, *, page: int = 1, limit: int = 10) -> TaskPage:
        """One page of tasks, newest first."""
        with self._lock:
            failure = self._before("list_tasks", (page, limit))
            records = list(reversed(self.tasks.values()))
            items = records[(page - 1) * limit : page * limit]
            summaries = tuple(
                TaskSummary(r.id, r.status, r.text, r.output, r.created_at, r.finished_at)
                for r in items
            )
            self._after(failure)
            pages = -(-len(records) // limit)
            return TaskPage(summaries, page, limit, pages, len(records))

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
        """Create a task (``running`` unless ``initial_status`` said otherwise)."""
        body = run_task_body(
            task, llm_model=llm_model, max_agent_steps=max_agent_steps, metadata=metadata,
            allowed_domains=allowed_domains, secrets=secrets,
        )  # fmt: skip
        with self._lock:
            failure = self._before("run_task", (task,))
            task_id = f"task_{next(self._ids):04d}"
            self.tasks[task_id] = RemoteRecord(
                task_id, task, self._initial, self._clock(), metadata=body.get("metadata", {})
            )
            self._after(failure)
            return task_id

    def close(self) -> None:
        """Mark the transport closed; later calls raise ``ConnectionFailed``."""
        self.closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # internals -------------------------------------------------------------------------

    def _take(self, verb: str, args: tuple[Any, ...]) -> _Failure | None:
        self.calls.append((verb, args))
        if self.closed:
            raise ConnectionFailed("the transport is closed")
        for failure in self._failures:
            if failure.verbs is None or verb in failure.verbs:
                self._failures.remove(failure)
                return failure
        return None

    def _before(self, verb: str, args: tuple[Any, ...]) -> _Failure | None:
        failure = self._take(verb, args)
        if failure is not None and not failure.applied:
            raise failure.error
        return failure

    @staticmethod
    def _after(failure: _Failure | None) -> None:
        if failure is not None:
            raise failure.error

    def _record(self, task_id: str) -> RemoteRecord:
        try:
            return self.tasks[task_id]
        except KeyError:
            raise TaskNotFound("Task not found", status_code=404, detail="Task not found") from None


class AsyncInMemoryTransport:
    """The ``AsyncTransport`` twin of ``InMemoryTransport``; ``backend`` holds the state."""

    def __init__(self, backend: InMemoryTransport | None = None) -> None:
        self.backend = InMemoryTransport() if backend is None else backend

    def __repr__(self) -> str:
        return f"AsyncInMemoryTransport({self.backend!r})"

    @property
    def pushed(self) -> list[tuple[str, Action]]:
        """Every accepted push, in order."""
        return self.backend.pushed

    def fail_next(
        self,
        error: TransportError,
        *,
        times: int = 1,
        on: str | Sequence[str] | None = None,
        applied: bool = False,
    ) -> None:
        """See ``InMemoryTransport.fail_next``."""
        self.backend.fail_next(error, times=times, on=on, applied=applied)

    async def push(self, task_id: str, action: Action) -> None:
        """See ``InMemoryTransport.push``."""
        self.backend.push(task_id, action)

    async def get_task(self, task_id: str) -> TaskView:
        """See ``InMemoryTransport.get_task``."""
        return self.backend.get_task(task_id)

    async def get_status(self, task_id: str) -> TaskStatus:
        """See ``InMemoryTransport.get_status``."""
        return self.backend.get_status(task_id)

    async def list_tasks(self, *, page: int = 1, limit: int = 10) -> TaskPage:
        """See ``InMemoryTransport.list_tasks``."""
        return self.backend.list_tasks(page=page, limit=limit)

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
        """See ``InMemoryTransport.run_task``."""
        return self.backend.run_task(
            task, llm_model=llm_model, max_agent_steps=max_agent_steps, metadata=metadata,
            allowed_domains=allowed_domains, secrets=secrets,
        )  # fmt: skip

    async def close(self) -> None:
        """See ``InMemoryTransport.close``."""
        self.backend.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
