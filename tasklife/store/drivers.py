"""The two thin drivers of ``tasklife.store.plan``: one runs a flow synchronously, one awaits it.

A driver is handed an ``execute`` function (one ``Statement`` in, its ``Rows`` out) by an
adapter, which owns the connection and translates its driver's errors; everything else (the
statements, their order, every decision) is the plan's. ``SQLTransaction`` and
``AsyncSQLTransaction`` are the ``Transaction`` and ``AsyncTransaction`` of every SQL adapter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import attrs

from tasklife.store import plan
from tasklife.store.plan import NOTHING, Flow, Rows, Sql, Statement
from tasklife.store.port import Change, Loaded
from tasklife.task import Clock, Task

__all__ = ["AsyncExecute", "AsyncSQLTransaction", "Execute", "SQLTransaction", "async_run", "run"]

R = TypeVar("R")
Execute = Callable[[Statement], Rows]
AsyncExecute = Callable[[Statement], Awaitable[Rows]]
E = TypeVar("E", Execute, AsyncExecute)


def run(flow: Flow[R], execute: Execute) -> R:
    """Run ``flow``, executing each statement it yields; its result."""
    step = _step(flow, None)
    while isinstance(step, Statement):
        step = _step(flow, execute(step))
    return step.value


async def async_run(flow: Flow[R], execute: AsyncExecute) -> R:
    """``run`` for an execute function that must be awaited."""
    step = _step(flow, None)
    while isinstance(step, Statement):
        step = _step(flow, await execute(step))
    return step.value


def _deferred(later: list[Statement] | None, statement: Statement) -> bool:
    """True when ``statement`` is kept in ``later`` (once) to run after the commit."""
    if later is None or not statement.deferred:
        return False
    if statement not in later:
        later.append(statement)
    return True


@attrs.frozen
class _Done(Generic[R]):
    value: R


def _step(flow: Flow[R], rows: Rows | None) -> Statement | _Done[R]:
    """The flow's next statement, given the last one's rows; or its result."""
    try:
        return flow.send(rows)  # type: ignore[arg-type]  # None starts the generator
    except StopIteration as done:
        return _Done(done.value)


class _Driven(Generic[E]):
    """What both transactions hold: the statements, how to run one, the clock, the guard."""

    def __init__(
        self,
        sql: Sql,
        execute: E,
        clock: Clock,
        guard: Callable[[], None] | None = None,
        deferred: list[Statement] | None = None,
    ) -> None:
        self._sql = sql
        self._execute: E = execute
        self._clock = clock
        self._guard = guard
        self._deferred = deferred

    def _check(self) -> None:
        if self._guard is not None:
            self._guard()


class SQLTransaction(_Driven[Execute]):
    """A ``Transaction`` that runs the plan's flows through one connection's ``execute``.

    ``guard`` is called before each operation (a joined connection checks that the caller's
    transaction is open). ``deferred``, given by a driver that owns the transaction, collects
    the deferred statements for it to run after the commit.
    """

    def run_flow(self, flow: Flow[R]) -> R:
        """Run a ``tasklife.store.plan`` flow in this transaction (for adapters)."""
        self._check()
        return run(flow, self._send)

    def _send(self, statement: Statement) -> Rows:
        return NOTHING if _deferred(self._deferred, statement) else self._execute(statement)

    def add(self, task: Task) -> Loaded:
        """See ``tasklife.store.Transaction.add``."""
        return self.run_flow(plan.add(self._sql, task, self._clock))

    def load(self, task_id: str) -> Loaded:
        """See ``tasklife.store.Transaction.load``."""
        return self.run_flow(plan.load(self._sql, task_id))

    def save(self, loaded: Loaded) -> Loaded:
        """See ``tasklife.store.Transaction.save``."""
        return self.run_flow(plan.save(self._sql, loaded, self._clock))

    def replace(self, task: Task, *, token: int) -> Loaded:
        """See ``tasklife.store.Transaction.replace``."""
        return self.run_flow(plan.replace(self._sql, task, token, self._clock))

    def changes(self, after: str | None = None, limit: int = 100) -> list[Change]:
        """See ``tasklife.store.Transaction.changes``."""
        return self.run_flow(plan.changes(self._sql, after, limit))

    def cursor(self, name: str) -> str | None:
        """See ``tasklife.store.Transaction.cursor``."""
        return self.run_flow(plan.cursor(self._sql, name))

    def set_cursor(self, name: str, cursor: str | None) -> None:
        """See ``tasklife.store.Transaction.set_cursor``."""
        return self.run_flow(plan.set_cursor(self._sql, name, cursor, self._clock))

    def consume(self, name: str, limit: int = 100) -> list[Change]:
        """See ``tasklife.store.Transaction.consume``."""
        return self.run_flow(plan.consume(self._sql, name, limit, self._clock))


class AsyncSQLTransaction(_Driven[AsyncExecute]):
    """An ``AsyncTransaction`` that runs the plan's flows through an awaited ``execute``."""

    async def run_flow(self, flow: Flow[R]) -> R:
        """Run a ``tasklife.store.plan`` flow in this transaction (for adapters)."""
        self._check()
        return await async_run(flow, self._send)

    async def _send(self, statement: Statement) -> Rows:
        if _deferred(self._deferred, statement):
            return NOTHING
        return await self._execute(statement)

    async def add(self, task: Task) -> Loaded:
        """See ``tasklife.store.Transaction.add``."""
        return await self.run_flow(plan.add(self._sql, task, self._clock))

    async def load(self, task_id: str) -> Loaded:
        """See ``tasklife.store.Transaction.load``."""
        return await self.run_flow(plan.load(self._sql, task_id))

    async def save(self, loaded: Loaded) -> Loaded:
        """See ``tasklife.store.Transaction.save``."""
        return await self.run_flow(plan.save(self._sql, loaded, self._clock))

    async def replace(self, task: Task, *, token: int) -> Loaded:
        """See ``tasklife.store.Transaction.replace``."""
        return await self.run_flow(plan.replace(self._sql, task, token, self._clock))

    async def changes(self, after: str | None = None, limit: int = 100) -> list[Change]:
        """See ``tasklife.store.Transaction.changes``."""
        return await self.run_flow(plan.changes(self._sql, after, limit))

    async def cursor(self, name: str) -> str | None:
        """See ``tasklife.store.Transaction.cursor``."""
        return await self.run_flow(plan.cursor(self._sql, name))

    async def set_cursor(self, name: str, cursor: str | None) -> None:
        """See ``tasklife.store.Transaction.set_cursor``."""
        return await self.run_flow(plan.set_cursor(self._sql, name, cursor, self._clock))

    async def consume(self, name: str, limit: int = 100) -> list[Change]:
        """See ``tasklife.store.Transaction.consume``."""
        return await self.run_flow(plan.consume(self._sql, name, limit, self._clock))
