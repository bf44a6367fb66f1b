"""``SQLiteTaskStore``: the store port on one SQLite file (WAL mode, numbered migrations).

Tables (names start with ``prefix``, ``tasklife_`` by default, so the file can be shared with
other tables, the emulator store's included): ``tasks`` (one row per task: id, token, status,
version, steps, and the task's ``to_dict()`` without its history as JSON), ``records`` (one
row per record: its ``to_dict()`` JSON), ``changes`` (the feed), ``cursors`` (named feed
positions) and ``migrations`` (which numbered migrations ran). Every value is a parameter.

Concurrency: each thread gets its own connection and SQLite's locking arbitrates, between
threads and between processes. A transaction of the store's own starts with ``BEGIN
IMMEDIATE`` (the write lock), so a unit of work on SQLite never loses a race: writers queue.
That is also why the feed's ``AUTOINCREMENT`` id is commit order (see ``tasklife.store.plan``).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from os import PathLike
from typing import Final, TypeVar

from tasklife.errors import InvalidArgument, seconds
from tasklife.store import plan
from tasklife.store.connections import SQLiteConnections
from tasklife.store.drivers import Execute, SQLTransaction, run
from tasklife.store.errors import StoreError
from tasklife.store.plan import Flow, Rows, Sql, Statement
from tasklife.store.port import Change
from tasklife.task import Clock, utc_now

__all__ = ["MIGRATIONS", "SQLiteTaskStore", "sqlite_sql"]

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        "CREATE TABLE {tasks} (id TEXT NOT NULL PRIMARY KEY, token INTEGER NOT NULL, "
        "status TEXT NOT NULL, version INTEGER NOT NULL, steps INTEGER NOT NULL, "
        "head TEXT NOT NULL) WITHOUT ROWID",
        "CREATE TABLE {records} (task_id TEXT NOT NULL REFERENCES {tasks} (id) "
        "ON DELETE CASCADE, seq INTEGER NOT NULL, data TEXT NOT NULL, "
        "PRIMARY KEY (task_id, seq)) WITHOUT ROWID",
        # AUTOINCREMENT: an id is never reused, even after the newest entries were pruned, so
        # no new entry can land below a cursor a reader holds.
        "CREATE TABLE {changes} (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "xid INTEGER NOT NULL DEFAULT 0, task_id TEXT NOT NULL, kind TEXT NOT NULL, "
        "token INTEGER NOT NULL, data TEXT NOT NULL, created_at TEXT NOT NULL)",
        "CREATE INDEX {changes_position} ON {changes} (xid, id)",
        "CREATE TABLE {cursors} (name TEXT NOT NULL PRIMARY KEY, position TEXT NOT NULL, "
        "updated_at TEXT NOT NULL) WITHOUT ROWID",
    ),
)
"""The numbered schema migrations (``{name}``s are the prefixed table names)."""

R = TypeVar("R")
_POLL: Final = 0.05


def sqlite_sql(prefix: str = "tasklife_") -> Sql:
    """The statements of the SQLite store for tables named ``prefix + name``."""
    plan.identifier(prefix, "prefix")
    names = ("tasks", "records", "changes", "cursors", "migrations", "changes_position")
    return Sql(
        tables={name: f'"{prefix}{name}"' for name in names},
        records_json="json_group_array(json(r.data))",
        horizon="1",
        lock="",
        notify=None,
        bootstrap=(
            Statement(
                "CREATE TABLE IF NOT EXISTS {migrations} "
                "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
            ),
        ),
        migrations=MIGRATIONS,
        placeholder="?",
        engine="sqlite",
        prefix=prefix,
    )


class SQLiteTaskStore(AbstractContextManager["SQLiteTaskStore"]):
    """A ``TaskStore`` in one SQLite file (created when missing; ``":memory:"`` works too).

    ``join(connection)`` runs the store's operations inside the caller's own ``sqlite3``
    transaction on the same file, so a task and the caller's rows commit or roll back together.
    """

    def __init__(
        self,
        path: str | PathLike[str],
        *,
        prefix: str = "tasklife_",
        timeout: float = 10.0,
        clock: Clock = utc_now,
    ) -> None:
        timeout = seconds("timeout", timeout, zero=True)
        self._sql = sqlite_sql(prefix)
        self._path = str(path)
        self._clock = clock
        try:
            self._connections = SQLiteConnections(self._path, timeout)
            self._connections.get().execute("PRAGMA journal_mode = WAL")
        except sqlite3.Error as error:
            raise StoreError(f"cannot open the task store at {self._path!r}: {error}") from None
        self._lock = self._connections.lock
        try:
            self._once(plan.migrate(self._sql, clock))
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"SQLiteTaskStore(path={self._path!r})"

    @property
    def sql(self) -> Sql:
        """The store's statements and table names, for services keeping tables beside them."""
        return self._sql

    @contextmanager
    def transaction(self) -> Iterator[SQLTransaction]:
        """A write transaction of the store's own (``BEGIN IMMEDIATE``): committed when the
        block ends, rolled back when it raises."""
        with self._lock:
            db = self._db()
            _execute(db, Statement("BEGIN IMMEDIATE"))
            try:
                yield SQLTransaction(self._sql, db_execute(db), self._clock)
                _execute(db, Statement("COMMIT"))
            finally:
                if db.in_transaction:
                    db.rollback()

    def join(self, connection: sqlite3.Connection) -> SQLTransaction:
        """The store's operations on ``connection``, inside the caller's transaction.

        The caller begins (or lets ``sqlite3`` begin) and commits or rolls back; the store
        never does. An autocommit connection outside a transaction is refused
        (``StoreError``), since its statements would commit one by one.
        """
        if not isinstance(connection, sqlite3.Connection):
            raise InvalidArgument("connection", "must be a sqlite3.Connection")

        def guard() -> None:
            if connection.isolation_level is None and not connection.in_transaction:
                raise StoreError(
                    "the joined sqlite3 connection is in autocommit mode outside a "
                    "transaction: BEGIN first, so the task and your rows commit together"
                )

        return SQLTransaction(self._sql, db_execute(connection), self._clock, guard)

    def changes(self, after: str | None = None, limit: int = 100) -> list[Change]:
        """Up to ``limit`` feed entries after the cursor ``after`` (None: from the start)."""
        return self._read(plan.changes(self._sql, after, limit))

    @contextmanager
    def watch(self) -> Iterator[_PollingWatch]:
        """A ``Watch`` that polls the feed's newest id every 50 ms (SQLite cannot push)."""
        yield _PollingWatch(self)

    def prune(self, *, older_than: timedelta) -> int:
        """Delete feed entries written more than ``older_than`` ago; returns how many."""
        return self._once(plan.prune(self._sql, older_than, self._clock))

    def close(self) -> None:
        """Close every connection (idempotent); the store must not be in use meanwhile."""
        self._connections.close()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # internals ---------------------------------------------------------------------------

    def _once(self, flow: Flow[R]) -> R:
        """Run ``flow`` in a write transaction of its own."""
        with self.transaction() as tx:
            return tx.run_flow(flow)

    def _read(self, flow: Flow[R]) -> R:
        """Run a one-statement read ``flow`` (a statement is atomic on its own)."""
        with self._lock:
            return run(flow, db_execute(self._db()))

    def _db(self) -> sqlite3.Connection:
        return self._connections.get()


def db_execute(db: sqlite3.Connection) -> Execute:
    """The ``execute`` function of a driver over ``db``."""
    return lambda statement: _execute(db, statement)


def _execute(db: sqlite3.Connection, statement: Statement) -> Rows:
    try:
        cursor = db.execute(statement.sql, statement.params)
        return Rows(cursor.fetchall(), cursor.rowcount)
    except sqlite3.Error as error:
        raise StoreError(f"the SQLite task store refused a statement: {error}") from None


class _PollingWatch:
    """Wakes when the feed's newest id moves (polled: SQLite has no notifications)."""

    def __init__(self, store: SQLiteTaskStore) -> None:
        self._store = store
        self._seen = store._read(plan.newest(store._sql))

    def wait(self, timeout: float) -> bool:
        """Block until the feed grew since the last wake (True) or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while True:
            newest = self._store._read(plan.newest(self._store._sql))
            if newest != self._seen:
                self._seen = newest
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(_POLL, left))
