"""tasklife.store used as a backend would; type-checked by mypy --strict, never run."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import psycopg

from tasklife import Task
from tasklife.store import (
    AsyncPostgresTaskStore,
    AsyncTaskStore,
    Change,
    Loaded,
    Outcome,
    PostgresTaskStore,
    SQLiteTaskStore,
    TaskStore,
    Transaction,
    async_transact,
    transact,
)


def pause(task: Task) -> bool:
    return task.pause()


def sync_backend(dsn: str) -> None:
    store: TaskStore = PostgresTaskStore(dsn, schema="jobs", max_size=8)
    with store.transaction() as tx:
        added: Loaded = tx.add(Task("job_1"))
        token: int = added.token
    outcome: Outcome[bool] = transact(store, "job_1", pause, attempts=3)
    changed: bool = outcome.changed
    with psycopg.connect(dsn) as conn, conn.transaction():
        joined: Transaction = PostgresTaskStore(dsn).join(conn)
        page: list[Change] = joined.consume("mailer", limit=10)
        cursors: list[str] = [change.cursor for change in page]
    with store.watch() as watch:
        woke: bool = watch.wait(1.0)
    pruned: int = store.prune(older_than=timedelta(days=7))
    print(token, changed, cursors, woke, pruned)


def sqlite_backend() -> None:
    with SQLiteTaskStore(":memory:") as store:
        db = sqlite3.connect(":memory:")
        tx: Transaction = store.join(db)
        loaded = tx.load("job_1")
        loaded.task.resume()
        saved: Loaded = tx.save(loaded)
        print(saved.token, store.changes(after=None, limit=5))


async def async_backend(dsn: str) -> None:
    async with AsyncPostgresTaskStore(dsn) as opened:
        store: AsyncTaskStore = opened
        outcome: Outcome[bool] = await async_transact(store, "job_1", pause)
        async with store.transaction() as tx:
            replaced: Loaded = await tx.replace(Task("job_1"), token=outcome.loaded.token)
        async with store.watch() as watch:
            woke: bool = await watch.wait(1.0)
        print(replaced.token, woke, await store.changes())
