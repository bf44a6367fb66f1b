"""A job service on tasklife and PostgreSQL (``pip install 'tasklife[postgres]'``).

Worker processes pause and resume shared tasks through the unit of work (``transact``), then
the service stops them all; meanwhile a consumer copies the change feed into the service's own
``audit`` table, moving its feed cursor in the same transaction as its insert, so each change
lands exactly once even if the consumer dies mid-way. Run it with a database's DSN:
``python examples/backend.py postgresql://postgres@127.0.0.1:5432/postgres [SCHEMA]``
"""

from __future__ import annotations

import contextlib
import multiprocessing
import random
import sys

import psycopg
from psycopg import sql

from tasklife import Task, TaskStatus
from tasklife.store import PostgresTaskStore, StoreConflict, transact

JOBS = [f"job_{n}" for n in range(5)]
WORKERS, ACTIONS = 3, 30


def toggle(task: Task) -> bool:
    """The workers' rule: pause a running job, resume a paused one, leave a stopped one."""
    if task.status is TaskStatus.RUNNING:
        return task.pause()
    return task.resume() if task.status is TaskStatus.PAUSED else False


def worker(dsn: str, schema: str, seed: int) -> None:
    chooser = random.Random(seed)  # noqa: S311 - picks jobs, guards nothing
    with PostgresTaskStore(dsn, schema=schema, max_size=1) as store:
        for _ in range(ACTIONS):
            transact(store, chooser.choice(JOBS), toggle)  # retried if another worker won


def consume(store: PostgresTaskStore, dsn: str, schema: str) -> int:
    """Copy the feed's new entries into ``audit``; the cursor moves in the same transaction."""
    with psycopg.connect(dsn) as conn, conn.transaction():
        changes = store.join(conn).consume("audit", limit=100)
        for change in changes:
            conn.execute(
                sql.SQL("INSERT INTO {}.audit VALUES (%s, %s, %s)").format(sql.Identifier(schema)),
                (change.cursor, change.task_id, change.data.get("action", change.kind)),
            )
    return len(changes)


def main(dsn: str, schema: str = "example") -> None:
    with PostgresTaskStore(dsn, schema=schema) as store:
        with psycopg.connect(dsn) as conn:
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {}.audit "
                    "(position text PRIMARY KEY, task_id text NOT NULL, what text NOT NULL)"
                ).format(sql.Identifier(schema))
            )
        for job in JOBS:
            task = Task(job)
            task.start()
            with contextlib.suppress(StoreConflict), store.transaction() as tx:
                tx.add(task)  # StoreConflict: an earlier run stored it
        spawn = multiprocessing.get_context("spawn")
        workers = [spawn.Process(target=worker, args=(dsn, schema, n)) for n in range(WORKERS)]
        with store.watch() as watch:
            for process in workers:
                process.start()
            while any(process.is_alive() for process in workers):
                if not consume(store, dsn, schema):
                    watch.wait(timeout=0.5)  # woken by the workers' commits (LISTEN/NOTIFY)
        for process in workers:
            process.join()
            if process.exitcode != 0:
                raise SystemExit(f"a worker failed ({process.exitcode})")
        for job in JOBS:
            transact(store, job, lambda task: task.stop())
        while consume(store, dsn, schema):
            pass
        with psycopg.connect(dsn) as conn:
            count = sql.SQL("SELECT count(*) FROM {}.audit").format(sql.Identifier(schema))
            audited = conn.execute(count).fetchone()
        feed = len(store.changes(limit=10_000))
        if audited != (feed,):
            raise SystemExit(f"the audit holds {audited} entries, the feed {feed}")
        with store.transaction() as tx:
            states = {tx.load(job).task.status.value for job in JOBS}
        print(
            f"{WORKERS} workers, {len(JOBS)} jobs now {', '.join(sorted(states))}; {feed} audited"
        )


if __name__ == "__main__":
    main(*sys.argv[1:3])
