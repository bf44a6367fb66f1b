"""The task store adapters under test behind one synchronous face, and a PostgreSQL per run.

``Kit`` is what the contract suite drives: ``SQLiteTaskStore``, ``PostgresTaskStore`` and
``AsyncPostgresTaskStore`` (whose coroutines run on an event loop in a thread of the kit's
own), so one test body exercises all three. ``Spec`` says how to open one (it is JSON, so a
worker process opens the same store).

PostgreSQL: ``TASKLIFE_TEST_POSTGRES`` (a DSN of a server's maintenance database; default
``postgresql://postgres@127.0.0.1:5432/postgres``) names the server. The ``postgres_server``
fixture creates a database of its own for the run and drops it afterwards; where no server
answers, the PostgreSQL tests are skipped with a message saying how to enable them, unless
``TASKLIFE_REQUIRE_POSTGRES=1`` (``.ci/run`` sets it) turns the skip into a failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, Literal, TypeVar

import attrs
import psycopg
import pytest
from psycopg import conninfo as pg_conninfo

from tasklife import Task
from tasklife.store import (
    AsyncPostgresTaskStore,
    Change,
    Outcome,
    PostgresTaskStore,
    SQLiteTaskStore,
    async_transact,
    transact,
)

ENV_DSN = "TASKLIFE_TEST_POSTGRES"
ENV_REQUIRE = "TASKLIFE_REQUIRE_POSTGRES"
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
Kind = Literal["sqlite", "postgres", "postgres-async"]
KINDS: tuple[Kind, ...] = ("sqlite", "postgres", "postgres-async")
T = TypeVar("T")


def maintenance_dsn() -> str:
    """The DSN of the server's maintenance database the tests create their database from."""
    return os.environ.get(ENV_DSN) or DEFAULT_DSN


@contextmanager
def temporary_database() -> Iterator[str]:
    """A new database on the test server (unique name), dropped afterwards; its DSN.

    Skips (or fails, under ``TASKLIFE_REQUIRE_POSTGRES=1``) when no server answers.
    """
    server = maintenance_dsn()
    name = f"tasklife_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(server, autocommit=True, connect_timeout=5)
    except psycopg.Error as error:
        message = (
            f"PostgreSQL is not reachable ({type(error).__name__}); the PostgreSQL tests need a "
            f"server: set {ENV_DSN} to a DSN of its maintenance database "
            f"(default {DEFAULT_DSN})"
        )
        if os.environ.get(ENV_REQUIRE) == "1":
            pytest.fail(f"{message} ({ENV_REQUIRE}=1 forbids skipping them)")
        pytest.skip(message)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield pg_conninfo.make_conninfo(server, dbname=name)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The DSN of a database created for this test run (dropped at its end)."""
    with temporary_database() as dsn:
        yield dsn


@attrs.frozen
class Spec:
    """How to open one store: its kind, its file or DSN, and its schema or table prefix."""

    kind: Kind
    target: str
    namespace: str

    def dumps(self) -> str:
        return json.dumps(attrs.asdict(self))

    @classmethod
    def loads(cls, text: str) -> Spec:
        return cls(**json.loads(text))

    def open(self) -> Kit:
        if self.kind == "sqlite":
            return SQLiteKit(self)
        if self.kind == "postgres":
            return PostgresKit(self)
        return AsyncPostgresKit(self)


def new_spec(kind: Kind, tmp_dir: str, postgres: str | None) -> Spec:
    """A spec for a fresh store: a new file, or a new schema in the run's database."""
    namespace = f"t_{uuid.uuid4().hex[:12]}"
    if kind == "sqlite":
        return Spec(kind, os.path.join(tmp_dir, f"{namespace}.sqlite3"), f"{namespace}_")
    assert postgres is not None
    return Spec(kind, postgres, namespace)


Sql = Callable[[str, tuple[Any, ...]], list[tuple[Any, ...]]]
"""Run the backend's own SQL (``%s`` placeholders) in the caller's transaction."""


class Kit:
    """One store behind a synchronous face; subclasses adapt each adapter."""

    spec: Spec
    store: Any

    def transaction(self) -> Any:
        """The store's own transaction (a context manager yielding a Transaction)."""
        return self.store.transaction()

    def changes(
        self, after: str | None = None, limit: int = 100, *, settle: bool = True
    ) -> list[Change]:
        """The feed; ``settle`` first waits for transactions begun before now (PostgreSQL)."""
        return list(self.store.changes(after, limit))

    def prune(self, older_than: timedelta) -> int:
        return int(self.store.prune(older_than=older_than))

    def watch(self) -> Any:
        return self.store.watch()

    def transact(self, task_id: str, act: Callable[[Task], T], **options: Any) -> Outcome[T]:
        return transact(self.store, task_id, act, **options)

    def add(self, task: Task) -> None:
        with self.transaction() as tx:
            tx.add(task)

    def caller_transaction(self, commit: bool = True) -> Any:
        """A transaction the backend owns on its own connection: ``(joined tx, sql)``."""
        raise NotImplementedError

    def backend_rows(self) -> list[str]:
        """The notes the backend's own table holds."""
        with self.caller_transaction() as (_, sql):
            return [row[0] for row in sql(f"SELECT note FROM {self.table} ORDER BY note", ())]

    @property
    def table(self) -> str:
        return f"{self.spec.namespace}backend_rows"

    def close(self) -> None:
        self.store.close()


class SQLiteKit(Kit):
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.store = SQLiteTaskStore(spec.target, prefix=spec.namespace)
        with self.caller_transaction() as (_, sql):
            sql(f"CREATE TABLE IF NOT EXISTS {self.table} (note TEXT NOT NULL)", ())

    @contextmanager
    def caller_transaction(self, commit: bool = True) -> Iterator[tuple[Any, Sql]]:
        db = sqlite3.connect(self.spec.target, isolation_level=None, timeout=30)
        try:
            db.execute("BEGIN IMMEDIATE")

            def sql(text: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
                return db.execute(text.replace("%s", "?"), params).fetchall()

            yield self.store.join(db), sql
            db.execute("COMMIT" if commit else "ROLLBACK")
        finally:
            if db.in_transaction:
                db.execute("ROLLBACK")
            db.close()


def await_feed_horizon(dsn: str, deadline: float = 60.0) -> None:
    """Wait until every transaction that began before now has ended, so the feed shows them.

    The feed is read below the snapshot's ``xmin``, which any writing transaction on the
    server holds back, in any database: tests share their PostgreSQL with other test runs,
    so a test that reads the feed right after a commit first waits for that horizon (a
    condition polled with a deadline, not a fixed sleep).
    """
    with psycopg.connect(dsn, autocommit=True) as conn:
        mark = conn.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()
        assert mark is not None
        query = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint > %s"
        give_up = time.monotonic() + deadline
        pause = threading.Event()
        while conn.execute(query, (mark[0],)).fetchone() != (True,):
            assert time.monotonic() < give_up, "a transaction on the server stayed open"
            pause.wait(0.01)


class PostgresKit(Kit):
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.store = PostgresTaskStore(spec.target, schema=spec.namespace, max_size=2)
        with self.caller_transaction() as (_, sql):
            sql(f"CREATE TABLE IF NOT EXISTS {self.table} (note text NOT NULL)", ())

    @property
    def table(self) -> str:
        return f'"{self.spec.namespace}".backend_rows'

    def changes(
        self, after: str | None = None, limit: int = 100, *, settle: bool = True
    ) -> list[Change]:
        if settle:
            await_feed_horizon(self.spec.target)
        return super().changes(after, limit)

    @contextmanager
    def caller_transaction(self, commit: bool = True) -> Iterator[tuple[Any, Sql]]:
        with psycopg.connect(self.spec.target) as conn:

            def sql(text: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
                cursor = conn.execute(text, params)
                return cursor.fetchall() if cursor.description else []

            yield self.store.join(conn), sql
            if commit:
                conn.commit()
            else:
                conn.rollback()


class AsyncPostgresKit(PostgresKit):
    """``AsyncPostgresTaskStore``, its coroutines run on a loop in a thread of its own."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.store = self.call(AsyncPostgresTaskStore(spec.target, schema=spec.namespace).open())
        with self.caller_transaction() as (_, sql):
            sql(f"CREATE TABLE IF NOT EXISTS {self.table} (note text NOT NULL)", ())

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        manager = self.store.transaction()
        tx = self.call(manager.__aenter__())
        try:
            yield _Blocking(tx, self.call)
        except BaseException as error:
            if not self.call(manager.__aexit__(type(error), error, error.__traceback__)):
                raise
        else:
            self.call(manager.__aexit__(None, None, None))

    def changes(
        self, after: str | None = None, limit: int = 100, *, settle: bool = True
    ) -> list[Change]:
        if settle:
            await_feed_horizon(self.spec.target)
        return list(self.call(self.store.changes(after, limit)))

    def prune(self, older_than: timedelta) -> int:
        return int(self.call(self.store.prune(older_than=older_than)))

    @contextmanager
    def watch(self) -> Iterator[Any]:
        manager = self.store.watch()
        watch = self.call(manager.__aenter__())
        try:
            yield _Blocking(watch, self.call)
        finally:
            self.call(manager.__aexit__(None, None, None))

    def transact(self, task_id: str, act: Callable[[Task], T], **options: Any) -> Outcome[T]:
        return self.call(async_transact(self.store, task_id, act, **options))

    @contextmanager
    def caller_transaction(self, commit: bool = True) -> Iterator[tuple[Any, Sql]]:
        conn = self.call(psycopg.AsyncConnection.connect(self.spec.target))

        def sql(text: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
            async def run() -> list[tuple[Any, ...]]:
                cursor = await conn.execute(text, params)
                return await cursor.fetchall() if cursor.description else []

            return self.call(run())

        try:
            yield _Blocking(self.store.join(conn), self.call), sql
            self.call(conn.commit() if commit else conn.rollback())
        finally:
            self.call(conn.close())

    def close(self) -> None:
        self.call(self.store.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()


class _Blocking:
    """An async object's coroutine methods, called and waited for on the kit's loop."""

    def __init__(self, target: Any, call: Callable[[Any], Any]) -> None:
        self._target = target
        self._call = call

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._target, name)
        return lambda *args, **kwargs: self._call(method(*args, **kwargs))
