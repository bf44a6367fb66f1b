"""The store port on PostgreSQL (psycopg 3): ``PostgresTaskStore``, ``AsyncPostgresTaskStore``.

Needs the ``postgres`` extra (``pip install 'tasklife[postgres]'``: psycopg 3 and psycopg_pool).
Both stores run the same SQL plan (``tasklife.store.plan``) through thin drivers; they differ
only in how a statement is executed (a ``psycopg.Connection`` or an ``AsyncConnection``, from
a ``psycopg_pool`` pool) and awaited.

Tables live in one schema (``tasklife`` by default, created when missing; pass ``schema=`` to
keep several stores in one database): ``tasks``, ``records``, ``changes`` (the feed),
``cursors`` and ``migrations``. Numbered migrations run when a store opens, under a
transaction-scoped advisory lock, so replicas starting together migrate once.

The feed's order is ``(xid, id)``, read only below the reading snapshot's ``xmin`` (see
``tasklife.store.plan``): a transaction that stays open holds back what readers can see
(never what they will eventually see). A save that appended to the feed also sends
``NOTIFY`` on the channel ``<schema>_changes``, which ``watch()`` listens to; the notification
is sent right after the save commits (see ``tasklife.store.plan.Statement.deferred``), so
it is a wake-up hint: a process that dies between the two leaves its watchers to their
``wait`` timeout, never a change unread. ``notify=False`` leaves it out.

Every ``psycopg`` error is raised as ``StoreError`` (a conflict is ``StoreConflict``); no
connection string is ever put in a message.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from datetime import timedelta
from functools import partial
from typing import Any, Final, Generic, Self, TypeVar

import attrs
import psycopg
from psycopg import pq
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from tasklife.errors import InvalidArgument, seconds
from tasklife.store import plan
from tasklife.store.drivers import AsyncSQLTransaction, SQLTransaction, async_run, run
from tasklife.store.errors import StoreError
from tasklife.store.plan import Flow, Rows, Sql, Statement
from tasklife.store.port import Change
from tasklife.task import Clock, utc_now

__all__ = ["MIGRATIONS", "AsyncPostgresTaskStore", "PostgresTaskStore", "postgres_sql"]

R = TypeVar("R")

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        "CREATE TABLE {tasks} (id text PRIMARY KEY, token bigint NOT NULL, "
        "status text NOT NULL, version integer NOT NULL, steps integer NOT NULL, "
        "head jsonb NOT NULL)",
        "CREATE TABLE {records} (task_id text NOT NULL REFERENCES {tasks} (id) "
        "ON DELETE CASCADE, seq integer NOT NULL, data jsonb NOT NULL, "
        "PRIMARY KEY (task_id, seq))",
        # xid: the writing transaction's id, which orders the feed (see tasklife.store.plan).
        "CREATE TABLE {changes} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
        "xid bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint), "
        "task_id text NOT NULL, kind text NOT NULL, token bigint NOT NULL, "
        "data jsonb NOT NULL, created_at timestamptz NOT NULL)",
        "CREATE INDEX {changes_position} ON {changes} (xid, id)",
        "CREATE TABLE {cursors} (name text PRIMARY KEY, position text NOT NULL, "
        "updated_at timestamptz NOT NULL)",
    ),
)
"""The numbered schema migrations (``{name}``s are the schema-qualified table names)."""


_SAVE_IN_ONE: Final = (
    "WITH moved AS (UPDATE {tasks} SET token = %s, status = %s, version = %s, steps = %s, "
    "head = %s WHERE id = %s AND token = %s RETURNING id, token), "
    "new AS (SELECT (r ->> 'seq')::integer AS seq, r AS data "
    "FROM jsonb_array_elements(%s::jsonb) AS r), "
    "at AS (SELECT %s::timestamptz AS created_at), "
    "kept AS (INSERT INTO {records} (task_id, seq, data) "
    "SELECT moved.id, new.seq, new.data FROM moved, new), "
    "fed AS (INSERT INTO {changes} (task_id, kind, token, data, created_at) "
    "SELECT moved.id, 'record', moved.token, new.data, at.created_at FROM moved, new, at "
    "ORDER BY new.seq) "
    "SELECT moved.token FROM moved"
)
"""A save as one statement (see ``tasklife.store.plan.save``): a stale token updates no row,
so the inserts, which select from the updated row, insert nothing."""


def postgres_sql(schema: str = "tasklife", *, notify: bool = True) -> Sql:
    """The statements of the PostgreSQL store for tables in ``schema``."""
    plan.identifier(schema, "schema")
    names = ("tasks", "records", "changes", "cursors", "migrations")
    tables = {name: f'"{schema}"."{name}"' for name in names}
    tables |= {"schema": f'"{schema}"', "changes_position": '"changes_position"'}
    return Sql(
        tables=tables,
        records_json="json_agg(r.data ORDER BY r.seq)",
        horizon="pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
        lock=" FOR UPDATE",
        notify=(
            Statement("SELECT pg_notify(%s, '')", (_channel(schema),), deferred=True)
            if notify
            else None
        ),
        bootstrap=(
            # One migrator at a time per schema, even before the schema exists.
            Statement("SELECT pg_advisory_xact_lock(%s)", (zlib.crc32(schema.encode()),)),
            Statement("CREATE SCHEMA IF NOT EXISTS {schema}"),
            Statement(
                "CREATE TABLE IF NOT EXISTS {migrations} "
                "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL)"
            ),
        ),
        migrations=MIGRATIONS,
        save_in_one=_SAVE_IN_ONE,
        engine="postgresql",
        schema=schema,
    )


def _channel(schema: str) -> str:
    return f"{schema}_changes"


@attrs.frozen
class _Setup:
    """What both PostgreSQL stores are configured with (checked once, shared)."""

    sql: Sql
    clock: Clock
    listen: Statement
    timeout: float
    pool_args: dict[str, Any]

    @classmethod
    def of(
        cls,
        schema: str,
        *,
        notify: bool,
        clock: Clock,
        min_size: int,
        max_size: int,
        timeout: float,
    ) -> _Setup:
        sizes: tuple[object, ...] = (min_size, max_size)
        if not all(type(n) is int for n in sizes) or not 0 <= min_size <= max_size:
            raise InvalidArgument("max_size", "pool sizes need 0 <= min_size <= max_size")
        timeout = seconds("timeout", timeout)
        args = {"min_size": min_size, "max_size": max_size, "timeout": timeout,
                "kwargs": {"autocommit": True}, "open": False}  # fmt: skip
        listen = Statement(f'LISTEN "{_channel(schema)}"')  # a checked identifier
        return cls(postgres_sql(schema, notify=notify), clock, listen, timeout, args)

    def listener_args(self, pool: ConnectionPool[Any] | AsyncConnectionPool[Any]) -> dict[str, Any]:
        """How to open a watch's own connection to the pool's database."""
        kwargs = pool.kwargs if isinstance(pool.kwargs, dict) else {}
        return {"conninfo": pool.conninfo, **kwargs, "autocommit": True}


@contextmanager
def _translated() -> Iterator[None]:
    """Raise every psycopg error as a ``StoreError`` (never with the connection string)."""
    try:
        yield
    except psycopg.Error as error:
        name = type(error).__name__
        raise StoreError(f"the PostgreSQL task store failed: {name}: {error}") from None


def _guard(connection: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> None:
    """Refuse a joined connection whose statements would each commit on their own."""
    idle = connection.info.transaction_status == pq.TransactionStatus.IDLE
    if connection.autocommit and idle:
        raise StoreError(
            "the joined connection is in autocommit mode outside a transaction: use "
            "`with conn.transaction():`, so the task and your rows commit together"
        )


def _execute(connection: psycopg.Connection[Any], statement: Statement) -> Rows:
    with _translated():
        cursor = connection.execute(statement.sql, statement.params)
        return Rows(cursor.fetchall() if cursor.description else [], cursor.rowcount)


async def _async_execute(connection: psycopg.AsyncConnection[Any], statement: Statement) -> Rows:
    with _translated():
        cursor = await connection.execute(statement.sql, statement.params)
        rows = await cursor.fetchall() if cursor.description else []
    return Rows(rows, cursor.rowcount)


PoolT = TypeVar("PoolT", ConnectionPool[Any], AsyncConnectionPool[Any])


class _Configured(Generic[PoolT]):
    """The configuration both PostgreSQL stores take, checked once."""

    def __init__(
        self,
        conninfo: str | PoolT,
        *,
        schema: str = "tasklife",
        notify: bool = True,
        min_size: int = 1,
        max_size: int = 4,
        timeout: float = 30.0,
        clock: Clock = utc_now,
    ) -> None:
        self._setup = _Setup.of(
            schema,
            notify=notify,
            clock=clock,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
        )
        self._owned = isinstance(conninfo, str)
        self._pool: PoolT = self._new_pool(conninfo) if isinstance(conninfo, str) else conninfo
        self._start()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(schema={self._setup.sql.tables['schema']})"

    @property
    def sql(self) -> Sql:
        """The store's statements and table names, for services keeping tables beside them."""
        return self._setup.sql

    def _new_pool(self, conninfo: str) -> PoolT:
        raise NotImplementedError

    def _start(self) -> None:
        """Open what must be open before use (the async store waits for ``open()``)."""


class PostgresTaskStore(
    _Configured[ConnectionPool[Any]], AbstractContextManager["PostgresTaskStore"]
):
    """A ``TaskStore`` on PostgreSQL, over a ``psycopg_pool.ConnectionPool``.

    ``conninfo`` is a connection string (the store then owns a pool of ``min_size`` to
    ``max_size`` connections, waiting at most ``timeout`` seconds for one) or a pool of yours
    (left open by ``close``). Opening applies the missing migrations. ``join(connection)`` runs
    the store's operations inside your own transaction on a psycopg connection.
    """

    def _new_pool(self, conninfo: str) -> ConnectionPool[Any]:
        return ConnectionPool(conninfo, **self._setup.pool_args)

    def _start(self) -> None:
        try:
            with _translated():
                if self._owned:
                    self._pool.open(wait=True, timeout=self._setup.timeout)
                with self.transaction() as tx:
                    tx.run_flow(plan.migrate(self._setup.sql, self._setup.clock))
        except BaseException:
            self.close()
            raise

    @contextmanager
    def transaction(self) -> Iterator[SQLTransaction]:
        """A transaction on a pooled connection: committed when the block ends, rolled back
        when it raises."""
        deferred: list[Statement] = []
        with _translated(), self._pool.connection() as conn:
            execute = partial(_execute, conn)
            with conn.transaction():
                yield SQLTransaction(self._setup.sql, execute, self._setup.clock, deferred=deferred)
            for statement in deferred:
                execute(statement)

    def join(self, connection: psycopg.Connection[Any]) -> SQLTransaction:
        """The store's operations on ``connection``, inside the caller's transaction.

        The caller commits or rolls back (``with connection.transaction():``, or a
        non-autocommit connection and ``commit()``); the store never does.
        """
        if not isinstance(connection, psycopg.Connection):
            raise InvalidArgument("connection", "must be a psycopg.Connection")
        execute = partial(_execute, connection)
        return SQLTransaction(
            self._setup.sql, execute, self._setup.clock, partial(_guard, connection)
        )

    def changes(self, after: str | None = None, limit: int = 100) -> list[Change]:
        """Up to ``limit`` feed entries after the cursor ``after`` (None: from the start)."""
        return self._auto(plan.changes(self._setup.sql, after, limit))

    @contextmanager
    def watch(self) -> Iterator[_Watch]:
        """A ``Watch`` on a connection of its own that ``LISTEN``s to the feed's channel."""
        with (
            _translated(),
            psycopg.Connection.connect(**self._setup.listener_args(self._pool)) as conn,
        ):
            _execute(conn, self._setup.listen)
            yield _Watch(conn)

    def prune(self, *, older_than: timedelta) -> int:
        """Delete feed entries written more than ``older_than`` ago; returns how many."""
        return self._auto(plan.prune(self._setup.sql, older_than, self._setup.clock))

    def close(self) -> None:
        """Close the pool if the store opened it (idempotent)."""
        if self._owned:
            self._pool.close()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _auto(self, flow: Flow[R]) -> R:
        """Run a one-statement ``flow`` on a pooled connection (it commits on its own)."""
        with _translated(), self._pool.connection() as conn:
            return run(flow, partial(_execute, conn))


class _Watch:
    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self._connection = connection

    def wait(self, timeout: float) -> bool:
        """Block until a notification (True) or ``timeout`` seconds pass (False)."""
        with _translated():
            for _ in self._connection.notifies(timeout=timeout, stop_after=1):
                return True
        return False


class AsyncPostgresTaskStore(_Configured[AsyncConnectionPool[Any]]):
    """An ``AsyncTaskStore`` on PostgreSQL, over a ``psycopg_pool.AsyncConnectionPool``.

    The same arguments as ``PostgresTaskStore``; nothing is opened until ``await open()``
    or ``async with``, which also applies the missing migrations.
    """

    def _new_pool(self, conninfo: str) -> AsyncConnectionPool[Any]:
        return AsyncConnectionPool(conninfo, **self._setup.pool_args)

    async def open(self) -> Self:
        """Open the pool (if the store owns it) and apply the missing migrations."""
        try:
            with _translated():
                if self._owned:
                    await self._pool.open(wait=True, timeout=self._setup.timeout)
                async with self.transaction() as tx:
                    await tx.run_flow(plan.migrate(self._setup.sql, self._setup.clock))
        except BaseException:
            await self.aclose()
            raise
        return self

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSQLTransaction]:
        """See ``PostgresTaskStore.transaction``."""
        deferred: list[Statement] = []
        with _translated():
            async with self._pool.connection() as conn:
                execute = partial(_async_execute, conn)
                async with conn.transaction():
                    yield AsyncSQLTransaction(
                        self._setup.sql, execute, self._setup.clock, deferred=deferred
                    )
                for statement in deferred:
                    await execute(statement)

    def join(self, connection: psycopg.AsyncConnection[Any]) -> AsyncSQLTransaction:
        """See ``PostgresTaskStore.join`` (for a ``psycopg.AsyncConnection``)."""
        if not isinstance(connection, psycopg.AsyncConnection):
            raise InvalidArgument("connection", "must be a psycopg.AsyncConnection")
        guard = partial(_guard, connection)
        return AsyncSQLTransaction(
            self._setup.sql, partial(_async_execute, connection), self._setup.clock, guard
        )

    async def changes(self, after: str | None = None, limit: int = 100) -> list[Change]:
        """See ``PostgresTaskStore.changes``."""
        return await self._auto(plan.changes(self._setup.sql, after, limit))

    @asynccontextmanager
    async def watch(self) -> AsyncIterator[_AsyncWatch]:
        """See ``PostgresTaskStore.watch``."""
        with _translated():
            args = self._setup.listener_args(self._pool)
            async with await psycopg.AsyncConnection.connect(**args) as conn:
                await _async_execute(conn, self._setup.listen)
                yield _AsyncWatch(conn)

    async def prune(self, *, older_than: timedelta) -> int:
        """See ``PostgresTaskStore.prune``."""
        return await self._auto(plan.prune(self._setup.sql, older_than, self._setup.clock))

    async def aclose(self) -> None:
        """Close the pool if the store opened it (idempotent)."""
        if self._owned:
            await self._pool.close()

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _auto(self, flow: Flow[R]) -> R:
        with _translated():
            async with self._pool.connection() as conn:
                return await async_run(flow, partial(_async_execute, conn))


class _AsyncWatch:
    def __init__(self, connection: psycopg.AsyncConnection[Any]) -> None:
        self._connection = connection

    async def wait(self, timeout: float) -> bool:
        """Wait for a notification (True) or ``timeout`` seconds (False)."""
        with _translated():
            async for _ in self._connection.notifies(timeout=timeout, stop_after=1):
                return True
        return False
