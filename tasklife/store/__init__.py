"""Task stores for any backend: the store port, a unit of work, and a transactional change feed.

``import tasklife`` never imports this package. The port (``TaskStore`` and its transactions,
``AsyncTaskStore`` for asyncio) keeps each task as its ``to_dict()`` JSON with a concurrency
token (``Loaded.token``); ``transact`` / ``async_transact`` load, act, save and retry; every
committed record lands in the change feed (``changes``, ``consume``, ``watch``, ``prune``).
Adapters: ``SQLiteTaskStore`` here, and ``PostgresTaskStore`` / ``AsyncPostgresTaskStore`` on
psycopg 3 (the ``postgres`` extra; imported only when first named).

The local server (``tasklife.service``) keeps its own data in tables beside a store's
(``tasklife.service.tables``), through the same transactions.

The store's errors (``StoreError`` and below) are drawn in ``tasklife.store.errors``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tasklife.store.errors import (
    StoreConflict,
    StoreCorruption,
    StoreError,
    TaskNotStored,
    TooManyConflicts,
)
from tasklife.store.port import (
    AsyncTaskStore,
    AsyncTransaction,
    AsyncWatch,
    Change,
    ChangeKind,
    Loaded,
    Outcome,
    TaskStore,
    Transaction,
    Watch,
)
from tasklife.store.sqlite import SQLiteTaskStore
from tasklife.store.unit_of_work import (
    DEFAULT_ATTEMPTS,
    TransactOptions,
    async_retried,
    async_transact,
    retried,
    transact,
)

if TYPE_CHECKING:
    from tasklife.store.postgres import AsyncPostgresTaskStore, PostgresTaskStore

_POSTGRES = frozenset({"AsyncPostgresTaskStore", "PostgresTaskStore"})


def __getattr__(name: str) -> Any:
    """The PostgreSQL adapters, imported on first use (they need the ``postgres`` extra)."""
    if name not in _POSTGRES:
        raise AttributeError(f"module 'tasklife.store' has no attribute {name!r}")
    from tasklife.store import postgres  # noqa: PLC0415 - psycopg only when asked for

    return getattr(postgres, name)


__all__ = [
    "DEFAULT_ATTEMPTS",
    "AsyncPostgresTaskStore",
    "AsyncTaskStore",
    "AsyncTransaction",
    "AsyncWatch",
    "Change",
    "ChangeKind",
    "Loaded",
    "Outcome",
    "PostgresTaskStore",
    "SQLiteTaskStore",
    "StoreConflict",
    "StoreCorruption",
    "StoreError",
    "TaskNotStored",
    "TaskStore",
    "TooManyConflicts",
    "TransactOptions",
    "Transaction",
    "Watch",
    "async_retried",
    "async_transact",
    "retried",
    "transact",
]
