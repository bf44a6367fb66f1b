"""The store port: what any backend's task store offers, sync (``TaskStore``) and async.

A store keeps tasks as ``Task.to_dict()`` JSON (the task's head, and one row per record), so a
new field in the ``to_dict`` layout needs no migration. Every write goes through a transaction
(``TaskStore.transaction()``, or the caller's own connection through an adapter's ``join``) and
is checked against the task's **concurrency token**: ``Loaded.token``. The token moves on
every change a save writes (a transition, steps, a replace); ``Task.version`` does not (it stays
the number of records, and steps do not move it), so the token is the one value to compare.

Every record a save writes, every task added and every replace is appended, in the same
transaction, to the store's **change feed**; ``changes(after=cursor)`` reads it in an order
that never skips a change, however the writers' commits interleave.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, AbstractContextManager
from datetime import timedelta
from typing import Any, Generic, Literal, Protocol, Self, TypeVar, runtime_checkable

import attrs

from tasklife.task import Task

__all__ = [
    "AsyncTaskStore",
    "AsyncTransaction",
    "AsyncWatch",
    "Change",
    "ChangeKind",
    "Loaded",
    "Outcome",
    "TaskStore",
    "Transaction",
    "Watch",
]

T = TypeVar("T")
ChangeKind = Literal["added", "record", "replaced"]
"""What a feed entry says: a task was added, one of its records was saved, or it was replaced."""


@attrs.frozen
class Loaded:
    """A task as a store holds it: the task, its concurrency token, and what was stored.

    ``token`` is *the* concurrency token: a save or replace succeeds only while the stored token
    is still this one. ``version`` and ``steps`` are what the store held when the task was
    loaded (or last saved), so a save writes only what changed since: the records after
    ``version``, and the status and steps. Act on ``task``; hand the ``Loaded`` to ``save``.
    """

    task: Task
    token: int
    version: int
    steps: int

    @property
    def changed(self) -> bool:
        """True when ``task`` holds records or steps the store does not have yet."""
        return self.task.version != self.version or self.task.steps != self.steps

    @classmethod
    def of(cls, task: Task, token: int) -> Self:
        """The ``Loaded`` of ``task`` just as it is stored at ``token``."""
        return cls(task, token, task.version, task.steps)


@attrs.frozen
class Change:
    """One entry of the change feed.

    ``cursor`` is where the entry stands in the feed: pass it as ``after`` to read what follows
    (an opaque string; store it as is). ``token`` is the task's token after the transaction
    that wrote the entry. ``data`` is the record's ``to_dict()`` for a ``record`` entry and the
    whole task's ``to_dict()`` for ``added`` and ``replaced``.
    """

    cursor: str
    task_id: str
    kind: ChangeKind
    token: int
    data: dict[str, Any]


@attrs.frozen
class Outcome(Generic[T]):
    """What ``transact`` did: the function's ``result``, whether anything was written.

    ``loaded`` is the task as stored afterwards (its token); ``attempts`` counts the loads.
    """

    result: T
    changed: bool
    loaded: Loaded
    attempts: int


@runtime_checkable
class Transaction(Protocol):
    """One database transaction of a store: everything done through it commits or rolls back
    together, with whatever else the same connection wrote (an adapter's ``join``)."""

    def add(self, task: Task) -> Loaded:
        """Store a new task (and its records) at token 1; ``StoreConflict`` if the id is taken."""

    def load(self, task_id: str) -> Loaded:
        """The task with its whole history and token; ``TaskNotStored`` when there is none."""

    def save(self, loaded: Loaded) -> Loaded:
        """Write what changed since ``loaded`` if the stored token is still ``loaded.token``.

        Writes the new records, the status and the steps, and appends the records to the
        feed; returns the task at its new token. A stale token raises ``StoreConflict`` and
        writes nothing. A save with nothing to write only checks the token.
        """

    def replace(self, task: Task, *, token: int) -> Loaded:
        """Store ``task`` (rebuilt from the remote) in place of the stored one at ``token``.

        The stored history is dropped for ``task``'s, which need not extend it; the feed gets
        a ``replaced`` entry. A stale token raises ``StoreConflict`` and writes nothing.
        """

    def changes(self, after: str | None = None, limit: int = 100) -> list[Change]:
        """Up to ``limit`` feed entries after the cursor ``after`` (None: from the start)."""

    def cursor(self, name: str) -> str | None:
        """The position saved under ``name`` (None: never saved)."""

    def set_cursor(self, name: str, cursor: str | None) -> None:
        """Save ``cursor`` under ``name``; it commits with this transaction."""

    def consume(self, name: str, limit: int = 100) -> list[Change]:
        """The entries after the cursor named ``name``, moving that cursor past them.

        The move commits with this transaction (with the caller's own work, under ``join``),
        and a concurrent ``consume`` of the same name waits for it, so each committed
        transaction consumes each entry once.
        """


@runtime_checkable
class Watch(Protocol):
    """Wakes a feed consumer when a change may have been committed (see ``TaskStore.watch``)."""

    def wait(self, timeout: float) -> bool:
        """Block until a change may have been committed (True) or ``timeout`` seconds pass."""


@runtime_checkable
class TaskStore(Protocol):
    """A task store: transactions, the change feed, and its retention.

    Each adapter also has ``join(connection)``: a ``Transaction`` inside the caller's own
    transaction on that connection (see the adapter).
    """

    def transaction(self) -> AbstractContextManager[Transaction]:
        """A transaction of the store's own: committed when the block ends, rolled back when
        it raises."""

    def changes(self, after: str | None = None, limit: int = 100) -> list[Change]:
        """Up to ``limit`` feed entries after the cursor ``after`` (None: from the start)."""

    def watch(self) -> AbstractContextManager[Watch]:
        """A ``Watch`` that wakes on feed commits; start it before the first read."""

    def prune(self, *, older_than: timedelta) -> int:
        """Delete feed entries written more than ``older_than`` ago; returns how many."""

    def close(self) -> None:
        """Release the store's connections (idempotent)."""

    def __enter__(self) -> Self:
        """The store itself."""

    def __exit__(self, *exc_info: object) -> None:
        """Close the store."""


@runtime_checkable
class AsyncTransaction(Protocol):
    """``Transaction`` for asyncio: the same operations, awaited."""

    async def add(self, task: Task) -> Loaded:
        """See ``Transaction.add``."""

    async def load(self, task_id: str) -> Loaded:
        """See ``Transaction.load``."""

    async def save(self, loaded: Loaded) -> Loaded:
        """See ``Transaction.save``."""

    async def replace(self, task: Task, *, token: int) -> Loaded:
        """See ``Transaction.replace``."""

    async def changes(self, after: str | None = None, limit: int = 100) -> list[Change]:
        """See ``Transaction.changes``."""

    async def cursor(self, name: str) -> str | None:
        """See ``Transaction.cursor``."""

    async def set_cursor(self, name: str, cursor: str | None) -> None:
        """See ``Transaction.set_cursor``."""

    async def consume(self, name: str, limit: int = 100) -> list[Change]:
        """See ``Transaction.consume``."""


@runtime_checkable
class AsyncWatch(Protocol):
    """``Watch`` for asyncio."""

    async def wait(self, timeout: float) -> bool:
        """See ``Watch.wait``."""


@runtime_checkable
class AsyncTaskStore(Protocol):
    """``TaskStore`` for asyncio: the same operations, awaited."""

    def transaction(self) -> AbstractAsyncContextManager[AsyncTransaction]:
        """See ``TaskStore.transaction``."""

    async def changes(self, after: str | None = None, limit: int = 100) -> list[Change]:
        """See ``TaskStore.changes``."""

    def watch(self) -> AbstractAsyncContextManager[AsyncWatch]:
        """See ``TaskStore.watch``."""

    async def prune(self, *, older_than: timedelta) -> int:
        """See ``TaskStore.prune``."""

    async def aclose(self) -> None:
        """See ``TaskStore.close``."""

    async def __aenter__(self) -> Self:
        """The store itself, opened."""

    async def __aexit__(self, *exc_info: object) -> None:
        """Close the store."""
