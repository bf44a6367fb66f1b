"""``InMemoryTransport``: a remote kept in memory, for your own tests (no network, no httpx).

It behaves like the v1 service because it runs the same domain: each remote task is a real
``Task``, a push is that task's action (``origin="local"``: the client asked, as ``tasklife
serve`` records it), a refused action is the remote's refusal (``ActionRefused``, 409, with
the domain's message), and ``stop`` on a terminal task is the domain's no-op. Arguments are
checked by the v1 request specs, as the HTTP transports check them, and views are built by the
same ``tasklife.v1`` builder the server uses. It records every accepted push in ``pushed`` and
every call in ``calls``, and can be told to fail the next calls with any ``TransportError``
(``fail_next``) -- optionally *after* the call took effect, which is how an ambiguous failure
(a timeout after the remote acted) looks from the client.

``set_status`` forces any status, as a real remote may jump where the table would not (a task
that fails before it starts, or is seen running again after a stop): a status the table can
reach is reconciled (origin ``remote``); any other, or a step count going back, rebuilds the
remote task (same id and ``created_at``, a fresh history leading to the forced status).

>>> from tasklife import Action, TaskStatus
>>> remote = InMemoryTransport()
>>> task_id = remote.run_task("find a flight")
>>> remote.push(task_id, Action.PAUSE)
>>> remote.get_status(task_id), remote.pushed
(<TaskStatus.PAUSED: 'paused'>, [('task_0001', <Action.PAUSE: 'pause'>)])
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar, Unpack

import attrs

from tasklife import v1
from tasklife.errors import InvalidTransition, ReconcileConflict
from tasklife.lifecycle import Action, TaskStatus
from tasklife.task import Clock, Task, utc_now
from tasklife.transports.base import AsyncClosing, Closing

__all__ = ["AsyncInMemoryTransport", "InMemoryTransport", "RemoteRecord"]

P = ParamSpec("P")
T = TypeVar("T")


@attrs.define
class RemoteRecord:
    """What the in-memory remote knows about one task: a real ``Task`` and its v1 fields.

    The task changes through its own actions (the remote's lifecycle) or
    ``InMemoryTransport.set_status``; ``text``, ``output`` and ``metadata`` may be set freely.
    """

    task: Task
    text: str
    output: str | None = None
    metadata: dict[str, str] = attrs.Factory(dict)
    llm_model: str = v1.DEFAULT_LLM_MODEL
    max_agent_steps: int = v1.DEFAULT_MAX_AGENT_STEPS

    @property
    def finished_at(self) -> datetime | None:
        """When the task reached its terminal status (None while it has not)."""
        history = self.task.history
        return history[-1].at if self.task.is_terminal and history else None

    def view(self) -> v1.TaskView:
        """This record as the v1 task view (``tasklife.v1.task_view``)."""
        return v1.task_view(
            self.task, text=self.text, output=self.output, finished_at=self.finished_at,
            metadata=self.metadata, llm_model=self.llm_model, max_agent_steps=self.max_agent_steps,
        )  # fmt: skip


@attrs.define
class _Failure:
    error: v1.TransportError
    verbs: frozenset[str] | None
    applied: bool


class InMemoryTransport(Closing):
    """A ``Transport`` whose remote lives in this object (see the module docstring)."""

    def __init__(self, *, clock: Clock = utc_now, initial_status: TaskStatus | None = None) -> None:
        """``initial_status`` is what ``run_task`` creates (default ``running``, as v1 does)."""
        self.tasks: dict[str, RemoteRecord] = {}
        self.pushed: list[tuple[str, Action]] = []
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.closed = False
        self._clock = clock
        self._initial = TaskStatus.RUNNING if initial_status is None else TaskStatus(initial_status)
        self._ids = itertools.count(1)
        self._failures: deque[_Failure] = deque()
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"InMemoryTransport(tasks={len(self.tasks)}, pushed={len(self.pushed)})"

    # test controls ---------------------------------------------------------------------

    def fail_next(
        self,
        error: v1.TransportError,
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
        task = Task(task_id, clock=self._clock)
        task.reconcile(TaskStatus(status), steps=steps)
        record = RemoteRecord(task, text)
        with self._lock:
            self.tasks[task_id] = record
        return record

    def set_status(self, task_id: str, status: TaskStatus, *, steps: int | None = None) -> None:
        """Change the remote's status (and step count) directly, as the service does by itself.

        Any status may be forced; see the module docstring for how a jump is recorded.
        """
        status = TaskStatus(status)
        with self._lock:
            record = self._record(task_id)
            task = record.task
            if steps is None or steps >= task.steps:
                try:
                    task.reconcile(status, steps=steps)
                    return
                except ReconcileConflict:
                    pass
            rebuilt = Task(task.id, clock=self._clock, created_at=task.created_at)
            rebuilt.reconcile(status, steps=task.steps if steps is None else steps)
            record.task = rebuilt

    # the Transport port ----------------------------------------------------------------

    def push(self, task_id: str, action: Action) -> None:
        """Apply a client action as the v1 service would; 409 when the table refuses it."""
        request = v1.push(task_id, action)
        action = Action(action)
        with self._lock:
            failure = self._before("push", (task_id, action))
            try:
                self._record(task_id).task.apply(action, origin="local")
            except InvalidTransition as refused:
                raise v1.ActionRefused(
                    str(refused), status_code=409, detail=str(refused), method="PUT",
                    path=request.path, task_id=task_id,
                ) from None  # fmt: skip
            self.pushed.append((task_id, action))
            self._after(failure)

    def get_task(self, task_id: str) -> v1.TaskView:
        """The v1 view of the task."""
        v1.get_task(task_id)
        with self._lock:
            failure = self._before("get_task", (task_id,))
            view = self._record(task_id).view()
            self._after(failure)
            return view

    def get_status(self, task_id: str) -> TaskStatus:
        """The task's status."""
        v1.get_status(task_id)
        with self._lock:
            failure = self._before("get_status", (task_id,))
            status = self._record(task_id).task.status
            self._after(failure)
            return status

    def list_tasks(self, *, page: int = 1, limit: int = 10) -> v1.TaskPage:
        """One page of tasks, newest first."""
        v1.list_tasks(page=page, limit=limit)
        with self._lock:
            failure = self._before("list_tasks", (page, limit))
            records = list(reversed(self.tasks.values()))
            chosen = records[v1.page_slice(page, limit)]
            found = [v1.summary_of(record.view()) for record in chosen]
            self._after(failure)
            return v1.task_page(found, page=page, limit=limit, total=len(records))

    def run_task(self, task: str, **options: Unpack[v1.RunTaskOptions]) -> str:
        """Create a task (``running`` unless ``initial_status`` said otherwise)."""
        order = v1.RunTaskRequest.of(task, **options)
        with self._lock:
            failure = self._before("run_task", (task,))
            created = Task(f"task_{next(self._ids):04d}", clock=self._clock)
            created.reconcile(self._initial)
            self.tasks[created.id] = RemoteRecord(
                created, order.task, metadata=dict(order.metadata or {}),
                llm_model=order.llm_model or v1.DEFAULT_LLM_MODEL,
                max_agent_steps=order.max_agent_steps or v1.DEFAULT_MAX_AGENT_STEPS,
            )  # fmt: skip
            self._after(failure)
            return created.id

    def close(self) -> None:
        """Mark the transport closed; later calls raise ``TransportClosed``."""
        self.closed = True

    # internals -------------------------------------------------------------------------

    def _before(self, verb: str, args: tuple[Any, ...]) -> _Failure | None:
        """Record the call; raise a failure due now; return one due after the call acts."""
        self.calls.append((verb, args))
        if self.closed:
            raise v1.TransportClosed("the transport is closed")
        for failure in self._failures:
            if failure.verbs is None or verb in failure.verbs:
                self._failures.remove(failure)
                if not failure.applied:
                    raise failure.error
                return failure
        return None

    @staticmethod
    def _after(failure: _Failure | None) -> None:
        if failure is not None:
            raise failure.error

    def _record(self, task_id: str) -> RemoteRecord:
        try:
            return self.tasks[task_id]
        except KeyError:
            raise v1.TaskNotFound.for_task(task_id) from None


def _delegate(
    method: Callable[Concatenate[InMemoryTransport, P], T],
) -> Callable[Concatenate[AsyncInMemoryTransport, P], T]:
    """An ``InMemoryTransport`` method (a test control) run on ``backend``."""

    def control(self: AsyncInMemoryTransport, /, *args: P.args, **kwargs: P.kwargs) -> T:
        result: T = getattr(self.backend, name)(*args, **kwargs)
        return result

    name = method.__name__

    control.__name__, control.__doc__ = method.__name__, method.__doc__
    return control


def _async(
    method: Callable[Concatenate[InMemoryTransport, P], T],
) -> Callable[Concatenate[AsyncInMemoryTransport, P], Coroutine[Any, Any, T]]:
    """The coroutine twin of an ``InMemoryTransport`` verb, run on ``backend``.

    It yields to the event loop once first, as a real transport does, so concurrent callers
    interleave as they would over a network.
    """

    async def verb(self: AsyncInMemoryTransport, /, *args: P.args, **kwargs: P.kwargs) -> T:
        await asyncio.sleep(0)
        result: T = getattr(self.backend, name)(*args, **kwargs)  # a subclass's override too
        return result

    name = method.__name__

    verb.__name__, verb.__doc__ = method.__name__, f"See ``InMemoryTransport.{method.__name__}``."
    return verb


class AsyncInMemoryTransport(AsyncClosing):
    """The ``AsyncTransport`` twin of ``InMemoryTransport``; ``backend`` holds the state."""

    def __init__(self, backend: InMemoryTransport | None = None) -> None:
        self.backend = InMemoryTransport() if backend is None else backend

    def __repr__(self) -> str:
        return f"AsyncInMemoryTransport({self.backend!r})"

    @property
    def pushed(self) -> list[tuple[str, Action]]:
        """Every accepted push, in order."""
        return self.backend.pushed

    fail_next = _delegate(InMemoryTransport.fail_next)
    push = _async(InMemoryTransport.push)
    get_task = _async(InMemoryTransport.get_task)
    get_status = _async(InMemoryTransport.get_status)
    list_tasks = _async(InMemoryTransport.list_tasks)
    run_task = _async(InMemoryTransport.run_task)
    close = _async(InMemoryTransport.close)
