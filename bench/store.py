"""The task store: transitions committed per second through the unit of work, against a floor.

Workload: 50 tasks, each reset to 10 records before every measured batch; one op = one
transition (pause a running task, resume a paused one) on a task picked at random, committed.
Workers are threads, each with its own connection (psycopg and sqlite3 release the GIL while
they wait on the database).

Contenders, interleaved (the order rotates every round):

- ``transact`` on ``PostgresTaskStore`` (the default: ``NOTIFY`` on) and with ``notify=False``;
- the floor: psycopg by hand, the same work in one transaction (read the task row and its
  records, ``UPDATE ... WHERE token = expected``, insert the record, insert the feed entry),
  retried on conflict like the unit of work;
- the same pair on SQLite (``SQLiteTaskStore`` and a hand-written ``sqlite3`` floor).

Also: commit -> consumer latency through the change feed with ``LISTEN/NOTIFY`` (a consumer
waits on ``watch()``, then reads ``changes()`` after its cursor).
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import conninfo as pg_conninfo
from psycopg_pool import ConnectionPool

from bench.report import Section, Verdict, table
from tasklife import Task, TaskStatus
from tasklife.store import PostgresTaskStore, SQLiteTaskStore, TaskStore, transact

__all__ = ["run"]

TASKS = 50
RECORDS = 10
TARGET = 0.7
DSN_ENV = "TASKLIFE_BENCH_POSTGRES"
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def toggle(task: Task) -> bool:
    """The measured transition: pause a running task, resume a paused one."""
    return task.pause() if task.status is TaskStatus.RUNNING else task.resume()


def fresh_task(task_id: str) -> Task:
    """A task holding exactly ``RECORDS`` records (start, then pause/resume in turn)."""
    task = Task(task_id)
    task.start()
    while task.version < RECORDS:
        toggle(task)
    return task


# The floors: the same work written by hand, one transaction per transition. -------------------


class Floor:
    """A transition by hand: read row and records, conditional UPDATE, insert record and entry."""

    def __init__(self, tables: dict[str, str], placeholder: str) -> None:
        def q(text: str) -> str:
            return text.format(**tables).replace("%s", placeholder)

        self.row = q("SELECT token, head FROM {tasks} WHERE id = %s")
        self.records = q("SELECT data FROM {records} WHERE task_id = %s ORDER BY seq")
        self.update = q(
            "UPDATE {tasks} SET token = %s, status = %s, version = %s, head = %s "
            "WHERE id = %s AND token = %s"
        )
        self.insert = q("INSERT INTO {records} (task_id, seq, data) VALUES (%s, %s, %s)")
        self.entry = q(
            "INSERT INTO {changes} (task_id, kind, token, data, created_at) "
            "VALUES (%s, 'record', %s, %s, %s)"
        )

    def act(self, execute: Callable[[str, tuple[Any, ...]], Any], task_id: str) -> bool:
        """One attempt; False when another writer moved the token first (nothing written)."""
        token, head = execute(self.row, (task_id,)).fetchone()
        head = json.loads(head) if isinstance(head, str) else head
        execute(self.records, (task_id,)).fetchall()
        source = head["status"]
        action, dest = ("pause", "paused") if source == "running" else ("resume", "running")
        seq = head["version"] + 1
        now = datetime.now(UTC).isoformat()
        record = json.dumps({"seq": seq, "action": action, "source": source, "dest": dest,
                             "at": now, "origin": "local", "reason": None})  # fmt: skip
        head |= {"status": dest, "version": seq}
        moved = execute(self.update, (token + 1, dest, seq, json.dumps(head), task_id, token))
        if moved.rowcount != 1:
            return False
        execute(self.insert, (task_id, seq, record))
        execute(self.entry, (task_id, token + 1, record, now))
        return True


def pg_floor_op(pool: ConnectionPool[Any], floor: Floor) -> Callable[[str], None]:
    def op(task_id: str) -> None:
        while True:
            with pool.connection() as conn, conn.transaction():
                if floor.act(conn.execute, task_id):
                    return

    return op


def sqlite_floor_op(path: str, floor: Floor) -> Callable[[str], None]:
    local = threading.local()

    def op(task_id: str) -> None:
        db: sqlite3.Connection | None = getattr(local, "db", None)
        if db is None:
            db = local.db = sqlite3.connect(path, isolation_level=None, timeout=30)
            db.execute("PRAGMA synchronous = NORMAL")
        while True:
            db.execute("BEGIN IMMEDIATE")
            try:
                done = floor.act(db.execute, task_id)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            if done:
                return

    return op


def uow_op(store: TaskStore) -> Callable[[str], None]:
    def op(task_id: str) -> None:
        transact(store, task_id, toggle, attempts=1000)

    return op


# Running a batch --------------------------------------------------------------------------


def reset(store: TaskStore) -> None:
    """Every task back to ``RECORDS`` records (not timed)."""
    with store.transaction() as tx:
        for n in range(TASKS):
            task_id = f"task_{n}"
            tx.replace(fresh_task(task_id), token=tx.load(task_id).token)


def batch(op: Callable[[str], None], workers: int, ops: int, seed: int) -> float:
    """Transitions committed per second by ``workers`` threads doing ``ops`` ops in all."""
    chooser = random.Random(seed)
    plans = [[f"task_{chooser.randrange(TASKS)}" for _ in range(ops // workers)]
             for _ in range(workers)]  # fmt: skip
    gate = threading.Barrier(workers + 1)
    errors: list[BaseException] = []

    def work(plan: list[str]) -> None:
        gate.wait()
        try:
            for task_id in plan:
                op(task_id)
        except BaseException as error:  # reported after the batch
            errors.append(error)

    threads = [threading.Thread(target=work, args=(plan,)) for plan in plans]
    for thread in threads:
        thread.start()
    gate.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return sum(len(p) for p in plans) / elapsed


@contextmanager
def database() -> Iterator[str]:
    """A database of its own on the bench server, dropped afterwards."""
    server = os.environ.get(DSN_ENV) or os.environ.get("TASKLIFE_TEST_POSTGRES") or DEFAULT_DSN
    name = f"tasklife_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield pg_conninfo.make_conninfo(server, dbname=name)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(store: TaskStore) -> None:
    with store.transaction() as tx:
        for n in range(TASKS):
            tx.add(fresh_task(f"task_{n}"))


def throughput(
    contenders: Mapping[str, tuple[TaskStore, Callable[[str], None]]],
    workers: int,
    rounds: int,
    ops: int,
) -> dict[str, list[float]]:
    """Transitions/s per contender and round, interleaved, rotating the order."""
    names = list(contenders)
    figures: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            store, op = contenders[name]
            reset(store)
            figures[name].append(batch(op, workers, ops, seed=round_))
    return figures


# Feed latency -----------------------------------------------------------------------------


def feed_latency(store: PostgresTaskStore, samples: int) -> list[float]:
    """Seconds from a transition's commit (acknowledged to its writer) to a consumer reading it."""
    committed: dict[tuple[str, int], float] = {}
    seen: dict[tuple[str, int], float] = {}
    cursor = _last_cursor(store)
    ready = threading.Event()
    done = threading.Event()

    def consume() -> None:
        nonlocal cursor
        with store.watch() as watch:
            ready.set()
            while not done.is_set() or len(seen) < len(committed):
                page = store.changes(after=cursor, limit=1000)
                now = time.perf_counter()
                for change in page:
                    seen[(change.task_id, change.data["seq"])] = now
                if page:
                    cursor = page[-1].cursor
                else:
                    watch.wait(0.2)

    consumer = threading.Thread(target=consume)
    consumer.start()
    ready.wait()
    chooser = random.Random(7)
    for _ in range(samples):
        task_id = f"task_{chooser.randrange(TASKS)}"
        outcome = transact(store, task_id, toggle)
        committed[(task_id, outcome.loaded.version)] = time.perf_counter()
        time.sleep(0.002)  # a paced writer, so each commit is a separate wake-up
    done.set()
    consumer.join()
    return [seen[key] - at for key, at in committed.items()]


def _last_cursor(store: PostgresTaskStore) -> str | None:
    cursor = None
    while page := store.changes(after=cursor, limit=10_000):
        cursor = page[-1].cursor
    return cursor


# The section ------------------------------------------------------------------------------


def run(quick: bool = False) -> Section:
    """Measure everything above; the section for BENCHMARKS.md."""
    rounds, ops = (2, 200) if quick else (5, 800)
    rows: list[tuple[str, ...]] = []
    verdicts: list[Verdict] = []
    with database() as dsn, tempfile.TemporaryDirectory() as folder:
        tables = {n: f'"bench"."{n}"' for n in ("tasks", "records", "changes")}
        lite_tables = {n: f'"tasklife_{n}"' for n in ("tasks", "records", "changes")}
        path = str(Path(folder) / "bench.sqlite3")
        pool: ConnectionPool[Any] = ConnectionPool(
            dsn, min_size=8, max_size=8, kwargs={"autocommit": True}, open=False
        )
        pool.open(wait=True)
        with (
            pool,
            PostgresTaskStore(pool, schema="bench") as pg,
            PostgresTaskStore(pool, schema="bench", notify=False) as quiet,
            SQLiteTaskStore(path) as lite,
        ):
            seed(pg)
            seed(lite)
            pg_contenders = {
                "transact, PostgreSQL": (pg, uow_op(pg)),
                "transact, PostgreSQL, notify=False": (quiet, uow_op(quiet)),
                "psycopg by hand (floor)": (pg, pg_floor_op(pool, Floor(tables, "%s"))),
            }
            lite_contenders = {
                "transact, SQLite": (lite, uow_op(lite)),
                "sqlite3 by hand (floor)": (lite, sqlite_floor_op(path, Floor(lite_tables, "?"))),
            }
            for workers in (1, 8):
                figures = throughput(pg_contenders, workers, rounds, ops)
                figures |= throughput(lite_contenders, workers, rounds, ops)
                floors = {
                    "PostgreSQL": "psycopg by hand (floor)",
                    "SQLite": "sqlite3 by hand (floor)",
                }
                for name, values in figures.items():
                    engine = "SQLite" if "SQLite" in name or "sqlite3" in name else "PostgreSQL"
                    ratio = statistics.median(values) / statistics.median(figures[floors[engine]])
                    rows.append((name, str(workers), _spread(values), f"{ratio:.2f}x"))
                ratio = statistics.median(figures["transact, PostgreSQL"]) / statistics.median(
                    figures["psycopg by hand (floor)"]
                )
                verdicts.append(
                    Verdict(
                        f"store: transact on PostgreSQL vs psycopg floor, {workers} worker(s)",
                        f"{ratio:.2f}x",
                        f"≥ {TARGET}x",
                        ratio >= TARGET,
                    )
                )
            latencies = sorted(feed_latency(pg, 60 if quick else 400))
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    body = (
        __doc__.split("\n\n", 1)[1]
        + "\n"
        + f"{rounds} rounds of {ops} transitions per contender and worker count; a task's "
        f"history grows from {RECORDS} records to {RECORDS + ops // TASKS} on average by the "
        "end of a batch.\n\n"
        + table(["contender", "workers", "transitions/s", "x floor (same engine)"], rows)
        + "\n"
        + table(
            ["change feed, commit -> consumer (LISTEN/NOTIFY)", "p50 ms", "p99 ms", "samples"],
            [
                (
                    "`watch().wait()` then `changes()`",
                    f"{p50:.2f}",
                    f"{p99:.2f}",
                    str(len(latencies)),
                )
            ],
        )
        + "\n"
        + SQLITE_NOTE
    )
    return Section("Store: unit of work and change feed", body, tuple(verdicts))


SQLITE_NOTE = """\
On SQLite the hand-written floor is the faster by far: its statements cost microseconds in
process, so what the unit of work adds per transition (``Task.from_dict`` validating the
loaded history, ``to_dict`` and JSON for the save, the plan's generator) is most of its time.
No target is set for it; the figures are here so a backend can choose.
"""


def _spread(values: list[float]) -> str:
    ordered = sorted(values)
    low, high = ordered[len(ordered) // 4], ordered[(3 * len(ordered)) // 4]
    return f"{statistics.median(values):.0f} ({low:.0f}-{high:.0f})"
