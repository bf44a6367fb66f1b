"""The store's public surface, its errors and the SQL plan's decisions, without a database.

The plan's flows are driven here by a scripted ``execute`` that records each statement and
answers with canned rows, so the decisions (what a save writes, when it conflicts, what it
defers) are checked apart from any engine; the contract suite runs them on real ones.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import tasklife.store
from tasklife import Task, TaskConflict, TaskLifeError
from tasklife.errors import InvalidArgument
from tasklife.store import (
    Loaded,
    StoreConflict,
    StoreCorruption,
    StoreError,
    TaskNotStored,
    TooManyConflicts,
    plan,
)
from tasklife.store.drivers import SQLTransaction, run
from tasklife.store.plan import Rows, Statement
from tasklife.store.postgres import postgres_sql
from tasklife.store.sqlite import sqlite_sql

PUBLIC = {
    "DEFAULT_ATTEMPTS", "AsyncPostgresTaskStore", "AsyncTaskStore", "AsyncTransaction",
    "AsyncWatch", "Change", "ChangeKind",
    "Loaded", "Outcome", "PostgresTaskStore", "SQLiteTaskStore",
    "StoreConflict", "StoreCorruption", "StoreError", "TaskNotStored", "TaskStore",
    "TooManyConflicts", "TransactOptions", "Transaction", "Watch", "async_retried",
    "async_transact", "retried",
    "transact",
}  # fmt: skip
AT = datetime(2026, 1, 1, tzinfo=UTC)


def clock() -> datetime:
    return AT


class Script:
    """An ``execute`` that records statements and answers each with the next canned rows."""

    def __init__(self, *answers: Rows) -> None:
        self.answers = list(answers)
        self.sent: list[Statement] = []

    def __call__(self, statement: Statement) -> Rows:
        self.sent.append(statement)
        return self.answers.pop(0) if self.answers else Rows([], 1)


def running() -> Task:
    task = Task("task_1", clock=clock)
    task.start()
    return task


class TestSurface:
    def test_all_is_the_documented_set(self) -> None:
        """tasklife.store exports exactly the documented names, sorted, and each resolves."""
        assert set(tasklife.store.__all__) == PUBLIC
        assert all(getattr(tasklife.store, name) is not None for name in PUBLIC)

    @pytest.mark.parametrize(
        ("module", "absent"),
        [("tasklife", ["psycopg", "psycopg_pool", "sqlite3"]),
         ("tasklife.store", ["psycopg", "psycopg_pool"])],
        ids=["tasklife", "tasklife.store"],
    )  # fmt: skip
    def test_imports_stay_light(self, module: str, absent: list[str]) -> None:
        """import tasklife loads no SQL driver; tasklife.store loads psycopg only when asked."""
        code = f"import sys, {module}; print([m for m in {absent!r} if m in sys.modules])"
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        assert out.strip() == "[]"

    def test_unknown_name(self) -> None:
        """A name the package does not have is an AttributeError, not an import."""
        with pytest.raises(AttributeError):
            _ = tasklife.store.NoSuchStore


class TestErrors:
    def test_tree(self) -> None:
        """Every store error is a StoreError under TaskLifeError; conflicts are TaskConflicts."""
        for error in (StoreConflict, TooManyConflicts, TaskNotStored, StoreCorruption):
            assert issubclass(error, StoreError)
        assert issubclass(StoreError, TaskLifeError)
        assert issubclass(TooManyConflicts, StoreConflict)
        assert issubclass(StoreConflict, TaskConflict)
        assert issubclass(TaskNotStored, LookupError)

    @pytest.mark.parametrize(
        "error",
        [StoreConflict("t", 1, 2), TooManyConflicts("t", 1, 2, 8), TaskNotStored("t"),
         StoreCorruption("t", "bad")],
        ids=["conflict", "too-many", "not-stored", "corruption"],
    )  # fmt: skip
    def test_pickles_with_fields(self, error: StoreError) -> None:
        """Each error survives pickling with its message and fields."""
        copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
        assert (type(copy), str(copy), vars(copy)) == (type(error), str(error), vars(error))

    def test_too_many_conflicts_says_how_many(self) -> None:
        """The message names the attempts and that nothing was written."""
        message = str(TooManyConflicts("task_1", 4, 5, 8))
        assert "8 attempts" in message
        assert "nothing" in message


class TestLoaded:
    def test_changed_tracks_records_and_steps(self) -> None:
        """Loaded.changed is True once the task holds records or steps the store lacks."""
        loaded = Loaded.of(running(), 3)
        assert not loaded.changed
        loaded.task.advance()
        assert loaded.changed


class TestPlan:
    def test_save_checks_the_token_and_writes_only_what_changed(self) -> None:
        """A save updates where the token matches and inserts only the new records."""
        task = running()
        loaded = Loaded.of(task, 4)
        task.pause()
        script = Script(Rows([], 1))
        saved = run(plan.save(sqlite_sql(), loaded, clock), script)
        update, records, entries = script.sent
        assert "WHERE id = ? AND token = ?" in update.sql
        assert update.params[0] == 5  # the new token
        assert update.params[-2:] == ("task_1", 4)
        assert records.params[:2] == ("task_1", 2)  # only record 2 (the pause)
        assert entries.params[:3] == ("task_1", "record", 5)
        assert (saved.token, saved.version) == (5, 2)

    def test_stale_token_raises_before_any_insert(self) -> None:
        """An update that matched no row raises StoreConflict after asking the real token."""
        loaded = Loaded.of(running(), 4)
        loaded.task.pause()
        script = Script(Rows([], 0), Rows([(9,)], 1))
        with pytest.raises(StoreConflict) as caught:
            run(plan.save(sqlite_sql(), loaded, clock), script)
        assert (caught.value.expected, caught.value.actual) == (4, 9)
        assert [s.sql.split()[0] for s in script.sent] == ["UPDATE", "SELECT"]

    def test_unchanged_save_only_reads_the_token(self) -> None:
        """A save with nothing to write reads the token and writes nothing."""
        script = Script(Rows([(4,)], 1))
        loaded = Loaded.of(running(), 4)
        assert run(plan.save(sqlite_sql(), loaded, clock), script) is loaded
        assert [s.sql.split()[0] for s in script.sent] == ["SELECT"]

    def test_postgres_saves_in_one_statement_and_defers_the_wakeup(self) -> None:
        """On PostgreSQL a save is one statement, then a NOTIFY deferred past the commit."""
        loaded = Loaded.of(running(), 1)
        loaded.task.pause()
        script = Script(Rows([(2,)], 1))
        later: list[Statement] = []
        tx = SQLTransaction(postgres_sql("s"), script, clock, deferred=later)
        assert tx.save(loaded).token == 2
        assert [s.sql.split()[0] for s in script.sent] == ["WITH"]
        assert [s.params for s in later] == [("s_changes",)]

    def test_steps_alone_wake_nobody(self) -> None:
        """A save of steps only appends nothing to the feed, so it defers no wake-up."""
        loaded = Loaded.of(running(), 1)
        loaded.task.advance()
        later: list[Statement] = []
        tx = SQLTransaction(postgres_sql("s"), Script(Rows([(2,)], 1)), clock, deferred=later)
        tx.save(loaded)
        assert later == []

    @pytest.mark.parametrize(
        ("call", "argument"),
        [(lambda: plan.changes(sqlite_sql(), "1-2", 10), "after"),
         (lambda: plan.changes(sqlite_sql(), "\u0661:2", 10), "after"),
         (lambda: plan.changes(sqlite_sql(), None, True), "limit"),
         (lambda: plan.set_cursor(sqlite_sql(), "n", "x", clock), "cursor"),
         (lambda: plan.cursor(sqlite_sql(), ""), "name"),
         (lambda: plan.prune(sqlite_sql(), timedelta(-1), clock), "older_than"),
         (lambda: plan.replace(sqlite_sql(), running(), 0, clock), "token"),
         (lambda: sqlite_sql("Bad-Prefix"), "prefix"),
         (lambda: postgres_sql('x"; DROP'), "schema")],
        ids=["cursor-dash", "cursor-arabic-digit", "limit-bool", "set-cursor", "name-empty",
             "negative-retention", "token-zero", "prefix", "schema"],
    )  # fmt: skip
    def test_bad_arguments(self, call: Callable[[], Any], argument: str) -> None:
        """Each bad argument is InvalidArgument naming it, before any statement is sent."""
        with pytest.raises(InvalidArgument) as caught:
            run(call(), Script())
        assert caught.value.argument == argument

    def test_corrupt_feed_entry(self) -> None:
        """A feed row of an unknown kind is StoreCorruption, not a KeyError."""
        script = Script(Rows([(0, 1, "task_1", "mystery", 1, "{}")], 1))
        with pytest.raises(StoreCorruption):
            run(plan.changes(sqlite_sql(), None, 10), script)

    def test_newer_schema_is_refused(self) -> None:
        """A database migrated by a newer tasklife is refused with advice to upgrade."""
        script = Script(Rows([], 0), Rows([(99,)], 1))
        with pytest.raises(StoreError, match="upgrade tasklife"):
            run(plan.migrate(sqlite_sql(), clock), script)
