"""``TaskService``: the server's use cases, as plain Python (no HTTP, no web framework).

The tasks live in a store of the neutral port (``SQLiteTaskStore``, ``PostgresTaskStore``); what
the server keeps beside each ``Task`` (the owner's key fingerprint, the text, the model, the
metadata, ``max_agent_steps``, the simulated output, the due time of the next simulated step)
lives in the service's own table, ``service_tasks`` (``tasklife.service.tables``), in the same
database. Every use case is one transaction of the store (``tasklife.store.retried``): it locks
the task's service row, loads the task, acts through the unit of work (``transact``), saves,
and writes the service row, so a task and its service row commit together or not at all. A
transaction that loses a race to another writer is run again from a fresh load, up to
``max_attempts`` times, then ``TooManyConflicts`` (a ``StoreConflict``) reaches the caller.
The service holds no lifecycle logic of its own: what the lifecycle table refuses, the task
refuses (and the HTTP entry point, ``tasklife.server``, maps the domain error to a status code).
It holds no copy of any task either, so several services (replicas, in several processes) on
one database act as one.

Simulated execution. A task starts right after it is created (``start``, origin ``remote``).
A running task has a due time for its next step (``due_at``), set when it starts or resumes to
one period (``step_seconds``) later, and cleared in the same transaction as a pause or an end.
``tick()`` claims the tasks whose step is due (on PostgreSQL ``FOR UPDATE SKIP LOCKED``, so
replicas ticking at once share them out; on SQLite under the write lock), takes one step of
each (finishing those that reach ``max_agent_steps``) and moves the due time on by one period,
in the same transaction. So a task steps once per period however many replicas tick, never
while paused, and keeps stepping while any replica ticks. A due time that fell behind the
present (no replica ticked for a while) is moved to just after it: missed steps are skipped,
not taken in a burst. ``tasklife.service.Ticker`` calls ``tick`` on a schedule. Client
actions are recorded with origin ``local``; what the simulated service does by itself (start,
finish, fail) with origin ``remote``, mirroring the lifecycle table's "who" column.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final, TypeVar, Unpack

import attrs

from tasklife.errors import (
    InvalidArgument,
    InvalidTransition,
    TaskNotRunning,
    positive_int,
    seconds,
)
from tasklife.lifecycle import Action, TaskStatus
from tasklife.service import tables
from tasklife.service.legacy import import_emulator
from tasklife.service.tables import SERVICE, ServiceRow, SQLStore, micros
from tasklife.service.writer import DEFAULT_BATCH, Writer
from tasklife.store import DEFAULT_ATTEMPTS, Loaded, transact
from tasklife.store.drivers import SQLTransaction
from tasklife.store.plan import Sql
from tasklife.task import Clock, Task, check_id, utc_now
from tasklife.v1 import (
    CLIENT_ACTIONS,
    DEFAULT_LLM_MODEL,
    DEFAULT_MAX_AGENT_STEPS,
    RunTaskOptions,
    RunTaskRequest,
    TaskNotFound,
    TaskPage,
    TaskView,
    check_page,
    check_text,
    task_page,
    task_view,
)

__all__ = [
    "ServiceTask",
    "TaskService",
    "check_text",
    "new_task_id",
    "summary",
]

_EXCERPT: Final = 80  # characters of the task's text quoted in a simulated output
_TICK_BATCH: Final = 100  # due tasks claimed (and stepped) per transaction of a tick
_REFUSALS: Final = (TaskNotFound, InvalidTransition, TaskNotRunning, InvalidArgument)
"""What the works raise, always before they write (see ``tasklife.service.writer``)."""

T = TypeVar("T")


def new_task_id() -> str:
    """A fresh, unguessable v1-style task id: ``task_`` and 32 hex digits."""
    return f"task_{secrets.token_hex(16)}"


@attrs.define
class ServiceTask:
    """A task as the service holds it: the domain's ``Task``, its token, and its service row."""

    task: Task
    token: int
    row: ServiceRow

    @property
    def id(self) -> str:
        """The task's id."""
        return self.task.id

    def view(self) -> TaskView:
        """The v1 task view of this task."""
        row = self.row
        return task_view(
            self.task,
            text=row.text,
            output=row.output,
            finished_at=row.finished_at,
            metadata=row.metadata,
            llm_model=row.llm_model,
            max_agent_steps=row.max_agent_steps,
        )

    def history(self) -> dict[str, Any]:
        """The emulator's history: every transition record, the version and the token."""
        task = self.task
        return {
            "id": task.id,
            "status": task.status.value,
            "steps": task.steps,
            "version": task.version,
            "token": self.token,
            "history": [r.to_dict() for r in task.history],
        }


Work = Callable[[SQLTransaction], T]
Keyed = tuple[Work[T], str]
"""A work and the task whose row it changes (locked at the start of its batch)."""


MAX_STEP_SECONDS: Final = 86_400
"""The longest simulated step period: a day."""


def step_period(step_seconds: object) -> float:
    """``step_seconds`` checked as the simulated execution's period: a number of seconds from
    0 (manual steps) to under ``MAX_STEP_SECONDS``; else ``InvalidArgument``."""
    return seconds("step_seconds", step_seconds, zero=True, under=MAX_STEP_SECONDS)


class TaskService:
    """The server's use cases over a SQL task store; safe to call from many threads.

    ``step_seconds`` is the simulated execution's period (0: tasks are never due by
    themselves; ``tick()`` then steps every running task once per call). Nothing is read or
    written until ``open()`` (or the first use case, which opens the service): it creates the
    service's tables, or moves an old ``tasklife serve`` file's tasks into them.

    Every use case runs on the service's writer thread (``tasklife.service.writer``: group
    commit, ``batch`` works per transaction); each has a blocking face (``act``) and an
    awaitable one (``act_async``) for an event loop. The writer keeps the last saved state of
    up to ``cache_size`` recently used tasks and uses it when the stored token shows that no
    one (no other replica) changed the task since, so an action costs no read of the task's
    history however long it grew. ``close()`` stops the writer.
    """

    def __init__(
        self,
        store: SQLStore,
        *,
        clock: Clock = utc_now,
        step_seconds: float = 0,
        max_attempts: int = DEFAULT_ATTEMPTS,
        new_id: Callable[[], str] = new_task_id,
        batch: int = DEFAULT_BATCH,
        cache_size: int = 10_000,
    ) -> None:
        positive_int("max_attempts", max_attempts)
        step = step_period(step_seconds)
        positive_int("batch", batch)
        positive_int("cache_size", cache_size)
        self.store = store
        self._clock = clock
        self._period = round(step * 1_000_000)
        self._new_id = new_id
        self._opened: Sql | None = None
        self._opening = threading.Lock()
        self._cache: OrderedDict[str, Loaded] = OrderedDict()
        self._pending: list[tuple[Work[Any], str | None, asyncio.Future[Any]]] = []
        self._cache_size = cache_size
        self._writer = Writer(
            store,
            attempts=max_attempts,
            batch=batch,
            on_rollback=self._cache.clear,
            prepare=self._lock_rows,
            clean=_REFUSALS,
        )

    def open(self) -> TaskService:
        """Create the service's tables (or bring them up to date); idempotent. Returns self."""
        self._open()
        return self

    def close(self) -> None:
        """Finish the queued work and stop the writer thread; the store stays open."""
        self._writer.close()

    # use cases ---------------------------------------------------------------------------

    def run_task(self, owner: str, text: str, **options: Unpack[RunTaskOptions]) -> ServiceTask:
        """Create a task for ``owner`` and start it, as the service does after run-task.

        ``options`` are run-task's (``tasklife.v1.RunTaskOptions``), checked as the v1 contract
        checks them (``RunTaskRequest.of``): ``InvalidArgument`` names the first bad one and
        nothing is stored. An option left out takes the v1 default; the simulated service
        keeps no ``allowed_domains`` or ``secrets``.
        """
        return self._wait(self._adding(owner, RunTaskRequest.of(text, **options)))

    async def run_task_async(
        self, owner: str, text: str, **options: Unpack[RunTaskOptions]
    ) -> ServiceTask:
        """``run_task`` for an event loop."""
        return await self._await(self._adding(owner, RunTaskRequest.of(text, **options)))

    def act(self, owner: str, task_id: str, action: Action) -> bool:
        """Apply a client action (pause, resume, stop); False when it was a no-op.

        Raises ``tasklife.v1.TaskNotFound``, the domain's ``InvalidTransition`` when the table
        refuses, or ``TooManyConflicts`` when concurrent writers kept winning every attempt.
        """
        return self._wait(*self._acting(owner, task_id, action))

    async def act_async(self, owner: str, task_id: str, action: Action) -> bool:
        """``act`` for an event loop."""
        return await self._await(*self._acting(owner, task_id, action))

    def advance(self, owner: str | None, task_id: str, steps: int = 1) -> dict[str, Any]:
        """Take ``steps`` steps of simulated progress; finishes the task at its step limit.

        Steps beyond ``max_agent_steps`` are not taken. Raises ``TaskNotRunning`` unless the
        task is running.
        """
        return self._wait(*self._advancing(owner, task_id, steps))

    async def advance_async(
        self, owner: str | None, task_id: str, steps: int = 1
    ) -> dict[str, Any]:
        """``advance`` for an event loop."""
        return await self._await(*self._advancing(owner, task_id, steps))

    def finish(self, owner: str | None, task_id: str) -> dict[str, Any]:
        """Finish a running task now, as if its agent had completed it."""
        return self._wait(*self._finishing(owner, task_id))

    async def finish_async(self, owner: str | None, task_id: str) -> dict[str, Any]:
        """``finish`` for an event loop."""
        return await self._await(*self._finishing(owner, task_id))

    def fail(self, owner: str | None, task_id: str, reason: str | None = None) -> dict[str, Any]:
        """Fail a created, running or paused task now, recording ``reason``."""
        return self._wait(*self._failing(owner, task_id, reason))

    async def fail_async(
        self, owner: str | None, task_id: str, reason: str | None = None
    ) -> dict[str, Any]:
        """``fail`` for an event loop."""
        return await self._await(*self._failing(owner, task_id, reason))

    def read(self, owner: str | None, task_id: str, render: Callable[[ServiceTask], T]) -> T:
        """``render(record)`` of the task as stored (task and service row read together).

        ``render`` runs on the writer thread, while no one changes the task. Raises
        ``tasklife.v1.TaskNotFound`` if the task is missing or not ``owner``'s.
        """
        check_id(task_id, "task_id")
        sql = self._open()

        def work(tx: SQLTransaction) -> T:
            row, token = self._row(tx, sql, owner, task_id, lock=False)
            return render(ServiceTask(self._loaded(tx, task_id, token).task, token, row))

        return self._wait(work)

    def status(self, owner: str, task_id: str) -> TaskStatus:
        """The task's current status (one small read)."""
        return self._wait(self._status(owner, task_id))

    async def status_async(self, owner: str, task_id: str) -> TaskStatus:
        """``status`` for an event loop."""
        return await self._await(self._status(owner, task_id))

    def page(self, owner: str, page: int, limit: int) -> TaskPage:
        """One page of ``owner``'s tasks, newest first (``page`` from 1)."""
        check_page(page, limit)
        sql = self._open()

        def work(tx: SQLTransaction) -> TaskPage:
            total = tx.run_flow(tables.count_owned(sql, owner))
            offset = (page - 1) * limit
            items = (
                [] if offset >= total else tx.run_flow(tables.page_owned(sql, owner, limit, offset))
            )
            return task_page(items, page=page, limit=limit, total=total)

        return self._wait(work)

    def tick(self) -> int:
        """Take one step of every running task whose step is due; returns how many stepped.

        With ``step_seconds`` 0 every running task is due, once per call.
        """
        sql = self._open()
        now = micros(self._clock())
        stepped = 0
        while True:
            claimed, moved = self._wait(lambda tx: self._tick_batch(tx, sql, now))
            stepped += moved
            if claimed < _TICK_BATCH:
                return stepped

    # the works ---------------------------------------------------------------------------

    def _adding(self, owner: str, request: RunTaskRequest) -> Work[ServiceTask]:
        sql = self._open()
        task = Task(self._new_id(), clock=self._clock)
        task.apply(Action.START, origin="remote")
        row = ServiceRow(
            task.id,
            owner,
            request.task,
            request.llm_model or DEFAULT_LLM_MODEL,
            request.max_agent_steps or DEFAULT_MAX_AGENT_STEPS,
            dict(request.metadata or {}),
        )
        self._schedule(row, task)

        def work(tx: SQLTransaction) -> ServiceTask:
            loaded = tx.add(task)
            tx.run_flow(tables.insert_row(sql, row))
            self._remember(loaded)
            return ServiceTask(task, loaded.token, row)

        return work

    def _acting(self, owner: str, task_id: str, action: Action) -> Keyed[bool]:
        action = Action(action)
        if action not in CLIENT_ACTIONS:
            raise InvalidArgument("action", f"{action} is not a client action")
        return self._changing(owner, task_id, lambda record: record.task.apply(action))

    def _advancing(self, owner: str | None, task_id: str, steps: int) -> Keyed[dict[str, Any]]:
        positive_int("steps", steps)

        def change(record: ServiceTask) -> dict[str, Any]:
            self._step(record, steps)
            return summary(record)

        return self._changing(owner, task_id, change)

    def _finishing(self, owner: str | None, task_id: str) -> Keyed[dict[str, Any]]:
        def change(record: ServiceTask) -> dict[str, Any]:
            self._finish(record)
            return summary(record)

        return self._changing(owner, task_id, change)

    def _failing(
        self, owner: str | None, task_id: str, reason: str | None
    ) -> Keyed[dict[str, Any]]:
        if reason is not None:
            check_text(reason, "reason")

        def change(record: ServiceTask) -> dict[str, Any]:
            record.task.apply(Action.FAIL, origin="remote", reason=reason)
            return summary(record)

        return self._changing(owner, task_id, change)

    def _status(self, owner: str, task_id: str) -> Work[TaskStatus]:
        check_id(task_id, "task_id")
        sql = self._open()

        def work(tx: SQLTransaction) -> TaskStatus:
            found = tx.run_flow(tables.status_of(sql, task_id))
            if found is None or found[0] != owner:
                raise TaskNotFound.for_task(task_id)
            status: TaskStatus = found[1]
            return status

        return work

    def _changing(
        self, owner: str | None, task_id: str, change: Callable[[ServiceTask], T]
    ) -> Keyed[T]:
        """Lock the service row, ``change`` the task, save the task and the row."""
        check_id(task_id, "task_id")
        sql = self._open()

        def work(tx: SQLTransaction) -> T:
            row, token = self._row(tx, sql, owner, task_id, lock=True)
            return self._apply(tx, sql, row, token, change)[0]

        return work, task_id  # the row its batch locks first

    # internals ---------------------------------------------------------------------------

    def _wait(self, work: Work[T], key: str | None = None) -> T:
        return self._writer.submit(work, key).result()

    async def _await(self, work: Work[T], key: str | None = None) -> T:
        """Run ``work`` for an event loop: on SQLite in a batch the loop runs itself (the
        requests that arrived together, once the loop has read them), elsewhere (PostgreSQL,
        whose round trips the loop must not wait for) on the writer thread."""
        if self.store.sql.engine != "sqlite":
            return await asyncio.wrap_future(self._writer.submit(work, key))
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[T] = loop.create_future()
        self._pending.append((work, key, waiter))
        if len(self._pending) == 1:
            loop.call_soon(self._flush, loop)
        return await waiter

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run the works the loop gathered, in batches, and answer their waiters."""
        pending, self._pending = self._pending, []
        try:
            futures = self._writer.run_now([(work, key) for work, key, _ in pending])
        except Exception as error:  # e.g. the service was closed: no waiter is left hanging
            for _, _, waiter in pending:
                if not waiter.done():
                    waiter.set_exception(error)
            return
        for future, (_, _, waiter) in zip(futures, pending, strict=True):
            if future.done():
                _answer(future, waiter)
            else:  # running again on the writer thread
                future.add_done_callback(functools.partial(_answer_soon, loop, waiter))

    def _lock_rows(self, tx: SQLTransaction, ids: list[str]) -> None:
        tx.run_flow(tables.lock_rows(self._open(), ids))

    def _open(self) -> Sql:
        opened = self._opened
        if opened is not None:
            return opened
        with self._opening:
            if self._opened is None:
                sql = SERVICE.sql(self.store.sql)
                now = micros(self._clock())
                with self.store.transaction() as tx:
                    SERVICE.migrate(tx, sql, self._clock)
                    tx.run_flow(import_emulator(sql, self._clock, now))
                self._opened = sql
            return self._opened

    def _tick_batch(self, tx: SQLTransaction, sql: Sql, now: int) -> tuple[int, int]:
        """Step the tasks claimed in one transaction: (how many claimed, how many stepped)."""
        claimed = tx.run_flow(tables.claim_due(sql, now, _TICK_BATCH))
        stepped = 0
        for task_id in claimed:
            row, token = self._row(tx, sql, None, task_id, lock=False)  # claim_due locked it
            due = now if row.due_at is None else row.due_at
            try:
                _, record = self._apply(tx, sql, row, token, lambda r: self._step(r, 1))
                stepped += 1
                running = record.task.status is TaskStatus.RUNNING
            except TaskNotRunning:  # changed by hand in the database: nothing to step
                running = False
            # The next step is one period on, or just after now when the ticks fell behind.
            row.due_at = max(due + self._period, now + 1) if running else None
            tx.run_flow(tables.update_row(sql, row))
        return len(claimed), stepped

    def _apply(
        self,
        tx: SQLTransaction,
        sql: Sql,
        row: ServiceRow,
        token: int,
        change: Callable[[ServiceTask], T],
    ) -> tuple[T, ServiceTask]:
        """``change`` on the task through the unit of work, then the service row it implies."""
        before = attrs.evolve(row)
        made: list[ServiceTask] = []

        def act(task: Task) -> T:
            made.append(ServiceTask(task, token, row))
            return change(made[-1])

        cached = self._cache.get(row.id)
        held = cached if cached is not None and cached.token == token else None
        outcome = transact(tx, row.id, act, loaded=held)
        self._remember(outcome.loaded)
        record = made[-1]
        record.token = outcome.loaded.token
        _note_terminal(record)
        self._schedule(row, record.task)
        if row != before:
            tx.run_flow(tables.update_row(sql, row))
        return outcome.result, record

    def _loaded(self, tx: SQLTransaction, task_id: str, token: int) -> Loaded:
        """The task at ``token``: the writer's own copy when it is that one, else loaded."""
        cached = self._cache.get(task_id)
        if cached is not None and cached.token == token:
            return cached
        loaded = tx.load(task_id)
        self._remember(loaded)
        return loaded

    def _remember(self, loaded: Loaded) -> None:
        cache = self._cache
        cache[loaded.task.id] = loaded
        cache.move_to_end(loaded.task.id)
        if len(cache) > self._cache_size:
            cache.popitem(last=False)

    def _row(
        self, tx: SQLTransaction, sql: Sql, owner: str | None, task_id: str, *, lock: bool
    ) -> tuple[ServiceRow, int]:
        found = tx.run_flow(tables.row_of(sql, task_id, lock=lock))
        if found is None or (owner is not None and found[0].owner != owner):
            raise TaskNotFound.for_task(task_id)
        return found

    def _schedule(self, row: ServiceRow, task: Task) -> None:
        """Keep ``due_at`` set exactly while the task runs: one period after it (re)started."""
        if task.status is not TaskStatus.RUNNING:
            row.due_at = None
        elif row.due_at is None:
            row.due_at = micros(self._clock()) + self._period

    def _step(self, record: ServiceTask, steps: int) -> None:
        task = record.task
        if task.status is not TaskStatus.RUNNING:
            raise TaskNotRunning(task.id, task.status)
        room = record.row.max_agent_steps - task.steps
        if room > 0:
            task.advance(min(steps, room))
        if task.steps >= record.row.max_agent_steps:
            self._finish(record)

    def _finish(self, record: ServiceTask) -> None:
        record.task.apply(Action.FINISH, origin="remote")
        text = record.row.text
        excerpt = text if len(text) <= _EXCERPT else f"{text[:_EXCERPT]}…"
        steps = record.task.steps
        record.row.output = f"Simulated result after {steps} step(s) for the task: {excerpt}"


def _answer_soon(
    loop: asyncio.AbstractEventLoop,
    waiter: asyncio.Future[Any],
    done: concurrent.futures.Future[Any],
) -> None:
    """``_answer`` on the loop's thread (called on the writer thread)."""
    loop.call_soon_threadsafe(_answer, done, waiter)


def _answer(done: concurrent.futures.Future[Any], waiter: asyncio.Future[Any]) -> None:
    """Hand a finished work's outcome to the coroutine waiting for it (unless it gave up)."""
    if waiter.cancelled():
        return
    error = done.exception()
    if error is None:
        waiter.set_result(done.result())
    else:
        waiter.set_exception(error)


def _note_terminal(record: ServiceTask) -> None:
    """Stamp ``finished_at`` with the time of the transition that made the task terminal."""
    task = record.task
    if task.is_terminal and record.row.finished_at is None and task.version:
        record.row.finished_at = task.history[-1].at


def summary(record: ServiceTask) -> dict[str, Any]:
    """A short dict for logs and the emulator endpoints."""
    return {"id": record.id, "status": record.task.status.value, "steps": record.task.steps}
