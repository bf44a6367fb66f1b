"""The store port's contract, run against every adapter: SQLite, PostgreSQL, PostgreSQL async.

Each test gets a fresh store (a new SQLite file, or a new schema in the run's PostgreSQL
database; see ``tests/store_kit.py``). Tests that need two writers to overlap (one holding
its transaction open while another commits) run on PostgreSQL only: SQLite serialises writers,
so there the overlap cannot happen (a second writer waits for the first).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from store_kit import KINDS, Kind, Kit, Spec, new_spec

from tasklife import (
    InvalidTaskData,
    InvalidTransition,
    Task,
    TaskConflict,
    TaskStatus,
)
from tasklife.errors import InvalidArgument
from tasklife.store import (
    Loaded,
    PostgresTaskStore,
    SQLiteTaskStore,
    StoreConflict,
    StoreCorruption,
    StoreError,
    TaskNotStored,
    TooManyConflicts,
    async_transact,
    transact,
)

WORKER = Path(__file__).resolve().parents[1] / "store_worker.py"
OVERLAPPING: tuple[Kind, ...] = ("postgres", "postgres-async")


def _spec(request: pytest.FixtureRequest, kind: Kind, tmp_path: Path) -> Spec:
    dsn = None if kind == "sqlite" else request.getfixturevalue("postgres_server")
    return new_spec(kind, str(tmp_path), dsn)


@pytest.fixture(params=KINDS)
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> Spec:
    """A fresh store of each adapter."""
    return _spec(request, request.param, tmp_path)


@pytest.fixture(params=OVERLAPPING)
def overlapping_spec(request: pytest.FixtureRequest, tmp_path: Path) -> Spec:
    """A fresh store of each adapter whose writers can overlap."""
    return _spec(request, request.param, tmp_path)


@pytest.fixture
def kit(spec: Spec) -> Iterator[Kit]:
    opened = spec.open()
    yield opened
    opened.close()


@pytest.fixture
def overlapping(overlapping_spec: Spec) -> Iterator[Kit]:
    opened = overlapping_spec.open()
    yield opened
    opened.close()


@pytest.fixture
def rival(overlapping_spec: Spec) -> Iterator[Kit]:
    """Another writer on the same store (a synchronous one: it may act from inside ``act``)."""
    opened = Spec("postgres", overlapping_spec.target, overlapping_spec.namespace).open()
    yield opened
    opened.close()


def running(task_id: str = "task_1") -> Task:
    task = Task(task_id)
    task.start()
    return task


def stored(kit: Kit, task: Task) -> Task:
    kit.add(task)
    return task


def load(kit: Kit, task_id: str = "task_1") -> Loaded:
    with kit.transaction() as tx:
        loaded: Loaded = tx.load(task_id)
    return loaded


def save(kit: Kit, loaded: Loaded) -> Loaded:
    with kit.transaction() as tx:
        saved: Loaded = tx.save(loaded)
    return saved


def records(kit: Kit) -> list[tuple[str, str, Any]]:
    """The feed as (task, kind, record seq) triples."""
    return [(c.task_id, c.kind, c.data.get("seq")) for c in kit.changes(limit=10_000)]


class TestLoadAndSave:
    def test_add_then_load_round_trips(self, kit: Kit) -> None:
        """A stored task loads back equal, with its whole history, at token 1."""
        task = running()
        task.advance(3)
        stored(kit, task)
        loaded = load(kit)
        assert (loaded.task, loaded.token, loaded.version, loaded.steps) == (task, 1, 1, 3)
        assert loaded.task.history == task.history

    def test_second_add_is_a_conflict(self, kit: Kit) -> None:
        """Adding an id that is stored raises StoreConflict and writes nothing."""
        stored(kit, running())
        before = records(kit)
        with pytest.raises(StoreConflict) as caught:
            kit.add(Task("task_1"))
        assert (caught.value.expected, caught.value.actual) == (0, 1)
        assert load(kit).task.status is TaskStatus.RUNNING
        assert records(kit) == before

    def test_missing_task_is_not_stored(self, kit: Kit) -> None:
        """Loading an id nobody stored raises TaskNotStored (a LookupError)."""
        with pytest.raises(TaskNotStored) as caught:
            load(kit, "task_missing")
        assert isinstance(caught.value, LookupError)

    def test_save_writes_records_and_steps_and_moves_the_token(self, kit: Kit) -> None:
        """A save writes the new records and the steps, and the token moves by one."""
        stored(kit, running())
        loaded = load(kit)
        loaded.task.advance(2)
        loaded.task.pause()
        saved = save(kit, loaded)
        again = load(kit)
        assert (saved.token, again.token) == (2, 2)
        assert (again.task.status, again.task.steps, again.version) == (TaskStatus.PAUSED, 2, 2)
        assert again.task == loaded.task

    def test_steps_alone_move_the_token(self, kit: Kit) -> None:
        """A save of steps only moves the token, so a writer holding the old one conflicts."""
        stored(kit, running())
        first, second = load(kit), load(kit)
        first.task.advance()
        save(kit, first)
        second.task.pause()
        with pytest.raises(StoreConflict):
            save(kit, second)
        assert (load(kit).task.steps, load(kit).task.status) == (1, TaskStatus.RUNNING)

    def test_stale_save_writes_nothing(self, kit: Kit) -> None:
        """A save with a stale token raises StoreConflict (a TaskConflict); nothing is written."""
        stored(kit, running())
        first, second = load(kit), load(kit)
        first.task.pause()
        save(kit, first)
        before = (load(kit), records(kit))
        second.task.stop()
        with pytest.raises(StoreConflict) as caught:
            save(kit, second)
        assert isinstance(caught.value, TaskConflict)
        assert (caught.value.expected, caught.value.actual) == (1, 2)
        after = load(kit)
        assert (after.token, after.task) == (before[0].token, before[0].task)
        assert records(kit) == before[1]

    def test_unchanged_save_checks_the_token(self, kit: Kit) -> None:
        """A save with nothing to write keeps the token, and still refuses a stale one."""
        stored(kit, running())
        first, second = load(kit), load(kit)
        assert save(kit, first).token == 1
        second.task.pause()
        save(kit, second)
        with pytest.raises(StoreConflict):
            save(kit, first)

    def test_shorter_history_needs_replace(self, kit: Kit) -> None:
        """Saving a task with fewer records than stored is refused: that is a replace."""
        stored(kit, running())
        loaded = load(kit)
        shorter = Loaded(Task("task_1"), loaded.token, loaded.version, loaded.steps)
        with pytest.raises(InvalidTaskData):
            save(kit, shorter)
        assert load(kit).version == 1

    def test_corrupt_row_is_store_corruption(self, kit: Kit) -> None:
        """A stored head that is not a task raises StoreCorruption naming the task."""
        stored(kit, running())
        with kit.caller_transaction() as (_, sql):
            tasks = _table(kit, "tasks")
            sql(f"UPDATE {tasks} SET head = %s WHERE id = %s", ('{"id": 3}', "task_1"))
        with pytest.raises(StoreCorruption) as caught:
            load(kit)
        assert caught.value.task_id == "task_1"

    @pytest.mark.parametrize(
        "bad", ["", "a b", 7, "x" * 300], ids=["empty", "space", "int", "long"]
    )
    def test_bad_id_is_invalid_task_data(self, kit: Kit, bad: object) -> None:
        """An id that cannot name a task is InvalidTaskData before any SQL runs."""
        with pytest.raises(InvalidTaskData):
            load(kit, bad)  # type: ignore[arg-type]

    def test_hostile_id_is_stored_literally(self, kit: Kit) -> None:
        """SQL in an id is data: the task is stored and loaded under exactly that id."""
        hostile = "x');DROP_TABLE_tasks;--"
        stored(kit, running(hostile))
        assert load(kit, hostile).task.id == hostile


class TestReplace:
    def test_replace_stores_a_history_that_does_not_extend(self, kit: Kit) -> None:
        """Replace swaps a stopped history for the remote's failed one; the token moves."""
        local = running()
        local.stop()
        stored(kit, local)
        remote = running()
        remote.fail("the remote says so")
        with kit.transaction() as tx:
            replaced = tx.replace(remote, token=1)
        again = load(kit)
        assert replaced.token == again.token == 2
        assert again.task == remote
        assert again.task.history[-1].reason == "the remote says so"
        last = kit.changes(limit=100)[-1]
        assert (last.kind, last.token, last.data["status"]) == ("replaced", 2, "failed")
        assert [r["action"] for r in last.data["history"]] == ["start", "fail"]

    def test_stale_replace_writes_nothing(self, kit: Kit) -> None:
        """A replace with a stale token raises StoreConflict; history and feed stay."""
        stored(kit, running())
        before = records(kit)
        remote = running()
        remote.fail()
        with pytest.raises(StoreConflict), kit.transaction() as tx:
            tx.replace(remote, token=7)
        assert load(kit).task.status is TaskStatus.RUNNING
        assert records(kit) == before


class TestUnitOfWork:
    def test_transact_acts_saves_and_reports(self, kit: Kit) -> None:
        """transact returns the act's result, that it changed, and the task at its new token."""
        stored(kit, running())
        outcome = kit.transact("task_1", lambda task: task.pause())
        assert (outcome.result, outcome.changed, outcome.attempts) == (True, True, 1)
        assert outcome.loaded.token == 2
        assert load(kit).task.status is TaskStatus.PAUSED

    def test_refused_action_writes_nothing(self, kit: Kit) -> None:
        """A transition the table refuses raises, and the store and feed are unchanged."""
        stored(kit, running())
        before = records(kit)
        with pytest.raises(InvalidTransition):
            kit.transact("task_1", lambda task: task.resume())
        assert load(kit).token == 1
        assert records(kit) == before

    def test_no_op_changes_nothing(self, kit: Kit) -> None:
        """stop on a stopped task reports no change and writes nothing (no token move)."""
        task = running()
        task.stop()
        stored(kit, task)
        outcome = kit.transact("task_1", lambda t: t.stop())
        assert (outcome.result, outcome.changed, outcome.loaded.token) == (False, False, 1)

    def test_invalid_attempts(self, kit: Kit) -> None:
        """attempts must be a positive integer."""
        stored(kit, running())
        with pytest.raises(InvalidArgument):
            kit.transact("task_1", lambda t: t.pause(), attempts=0)

    def test_unknown_option(self, kit: Kit) -> None:
        """An option transact does not have (a typo) raises InvalidArgument naming it, before
        anything is read or written."""
        stored(kit, running())
        with pytest.raises(InvalidArgument) as info:
            kit.transact("task_1", lambda t: t.pause(), attempt=3)
        assert info.value.argument == "attempt"
        assert "attempts, loaded" in str(info.value)
        assert kit.transact("task_1", lambda t: t.status).loaded.token == 1

    def test_missing_task(self, kit: Kit) -> None:
        """transact on a task nobody stored raises TaskNotStored."""
        with pytest.raises(TaskNotStored):
            kit.transact("task_9", lambda t: t.pause())

    def test_conflict_is_retried_from_a_fresh_load(self, overlapping: Kit, rival: Kit) -> None:
        """A writer that commits between load and save costs one more attempt, nothing lost."""
        stored(overlapping, running())
        calls: list[int] = []

        def act(task: Task) -> int:
            calls.append(task.steps)
            if len(calls) == 1:
                rival.transact("task_1", lambda t: t.advance(5))
            task.advance()
            return task.steps

        outcome = overlapping.transact("task_1", act)
        assert (calls, outcome.result, outcome.attempts) == ([0, 5], 6, 2)
        assert load(overlapping).task.steps == 6

    def test_too_many_conflicts(self, overlapping: Kit, rival: Kit) -> None:
        """Losing every attempt raises TooManyConflicts (a StoreConflict); only rivals wrote."""
        stored(overlapping, running())

        def act(task: Task) -> None:
            rival.transact("task_1", lambda t: t.advance())
            task.pause()

        with pytest.raises(TooManyConflicts) as caught:
            overlapping.transact("task_1", act, attempts=3)
        assert isinstance(caught.value, StoreConflict)
        assert caught.value.attempts == 3
        after = load(overlapping)
        assert (after.task.status, after.task.steps) == (TaskStatus.RUNNING, 3)

    def test_no_retry_inside_the_callers_transaction(self, overlapping: Kit, rival: Kit) -> None:
        """In a caller-owned transaction a conflict is raised at once (act ran once)."""
        stored(overlapping, running())
        calls: list[int] = []

        def act(task: Task) -> None:
            calls.append(1)
            rival.transact("task_1", lambda t: t.advance())
            task.pause()

        with pytest.raises(StoreConflict) as caught, overlapping.caller_transaction() as (tx, _):
            _transact_in(overlapping, tx, act)
        assert not isinstance(caught.value, TooManyConflicts)
        assert calls == [1]


def _transact_in(kit: Kit, tx: Any, act: Any) -> Any:
    """transact on a caller-owned transaction, sync or async as the kit is."""
    if hasattr(kit, "call"):
        return kit.call(async_transact(tx._target, "task_1", act))
    return transact(tx, "task_1", act)


def _table(kit: Kit, name: str) -> str:
    if kit.spec.kind == "sqlite":
        return f'"{kit.spec.namespace}{name}"'
    return f'"{kit.spec.namespace}"."{name}"'


class TestJoin:
    def test_commit_writes_the_task_and_the_backends_rows(self, kit: Kit) -> None:
        """In the caller's transaction, the save, its feed entry and the caller's row commit."""
        stored(kit, running())
        with kit.caller_transaction() as (tx, sql):
            loaded = tx.load("task_1")
            loaded.task.pause()
            tx.save(loaded)
            sql(f"INSERT INTO {kit.table} (note) VALUES (%s)", ("invoice 1",))
        assert load(kit).task.status is TaskStatus.PAUSED
        assert kit.backend_rows() == ["invoice 1"]
        assert records(kit)[-1] == ("task_1", "record", 2)

    def test_rollback_writes_nothing(self, kit: Kit) -> None:
        """A rolled-back caller transaction leaves no task change, no feed entry, no row."""
        stored(kit, running())
        before = records(kit)
        with kit.caller_transaction(commit=False) as (tx, sql):
            loaded = tx.load("task_1")
            loaded.task.stop()
            tx.save(loaded)
            tx.add(running("task_2"))
            sql(f"INSERT INTO {kit.table} (note) VALUES (%s)", ("invoice 1",))
        assert load(kit).task.status is TaskStatus.RUNNING
        with pytest.raises(TaskNotStored):
            load(kit, "task_2")
        assert kit.backend_rows() == []
        assert records(kit) == before


class TestFeed:
    def test_every_committed_write_is_in_the_feed_in_order(self, kit: Kit) -> None:
        """add, each saved record and replace appear once, in order; steps alone add none."""
        stored(kit, running())
        kit.transact("task_1", lambda t: t.advance(4))
        kit.transact("task_1", lambda t: t.pause())
        kit.transact("task_1", lambda t: t.resume())
        feed = kit.changes()
        assert [(c.kind, c.data.get("seq"), c.token) for c in feed] == [
            ("added", None, 1), ("record", 1, 1), ("record", 2, 3), ("record", 3, 4)
        ]  # fmt: skip
        assert feed[2].data["action"] == "pause"
        assert feed[0].data["history"][0]["action"] == "start"

    def test_reading_on_from_a_cursor(self, kit: Kit) -> None:
        """changes(after=c, limit=n) reads the next n entries after c, and [] at the end."""
        stored(kit, running())
        kit.transact("task_1", lambda t: t.pause())
        whole = kit.changes()
        first = kit.changes(limit=1)
        rest = kit.changes(after=first[-1].cursor, limit=10)
        assert first + rest == whole
        assert kit.changes(after=whole[-1].cursor) == []

    @pytest.mark.parametrize(
        "args",
        [{"after": "x"}, {"after": "1:2:3"}, {"after": "-1:2"}, {"limit": 0}, {"limit": 10**6}],
        ids=["word", "three", "negative", "zero", "huge"],
    )
    def test_bad_cursor_or_limit(self, kit: Kit, args: dict[str, Any]) -> None:
        """A cursor the feed never handed out, or a limit out of range, is InvalidArgument."""
        with pytest.raises(InvalidArgument):
            kit.changes(**args)

    def test_consume_moves_a_cursor_with_the_transaction(self, kit: Kit) -> None:
        """consume reads after the named cursor and moves it, unless the transaction rolls back."""
        stored(kit, running())
        kit.transact("task_1", lambda t: t.pause())
        with kit.caller_transaction(commit=False) as (tx, _):
            assert len(tx.consume("mailer", 10)) == 3
        with kit.caller_transaction() as (tx, _):
            assert [c.kind for c in tx.consume("mailer", 2)] == ["added", "record"]
        with kit.caller_transaction() as (tx, _):
            assert [c.data["action"] for c in tx.consume("mailer", 10)] == ["pause"]
            assert tx.consume("mailer", 10) == []
            assert tx.cursor("mailer") == kit.changes(settle=False)[-1].cursor

    def test_set_cursor_rewinds(self, kit: Kit) -> None:
        """A cursor set back to None replays the feed from its start."""
        stored(kit, running())
        with kit.transaction() as tx:
            tx.consume("replay", 10)
            tx.set_cursor("replay", None)
            assert tx.cursor("replay") is None
            assert len(tx.consume("replay", 10)) == 2

    def test_prune_keeps_cursors_valid(self, kit: Kit) -> None:
        """After pruning every entry, a new one still lands after the cursor a reader holds."""
        stored(kit, running())
        held = kit.changes()[-1].cursor
        assert kit.prune(timedelta(days=1)) == 0
        assert kit.prune(timedelta(0)) == 2
        assert kit.changes() == []
        kit.transact("task_1", lambda t: t.pause())
        assert [c.data["action"] for c in kit.changes(after=held)] == ["pause"]

    def test_watch_wakes_on_a_commit(self, kit: Kit) -> None:
        """A watch started before a commit wakes for it (a push on PostgreSQL, a poll on SQLite)."""
        stored(kit, running())
        with kit.watch() as watch:
            kit.transact("task_1", lambda t: t.pause())
            assert watch.wait(60) is True

    def test_a_late_commit_is_never_skipped(self, overlapping: Kit, rival: Kit) -> None:
        """A change committed after a reader passed a later-numbered one still reaches it.

        Writer A saves first (taking the smaller entry id) and commits last; writer B saves
        and commits in between. A reader that read in between must still get A's change.
        """
        stored(overlapping, running("task_a"))
        stored(overlapping, running("task_b"))
        start = overlapping.changes()[-1].cursor
        with overlapping.caller_transaction() as (tx, _):
            loaded = tx.load("task_a")
            loaded.task.pause()
            tx.save(loaded)
            rival.transact("task_b", lambda t: t.pause())
            between = overlapping.changes(after=start, settle=False)
        cursor = between[-1].cursor if between else start
        after = overlapping.changes(after=cursor)
        seen = [(c.task_id, c.data["action"]) for c in between + after]
        assert sorted(seen) == [("task_a", "pause"), ("task_b", "pause")]


class TestProcesses:
    def test_concurrent_writers_and_a_reader_see_every_record_once(self, spec: Spec) -> None:
        """3 writer processes and a reader: no acknowledged record lost, none read twice."""
        kit = spec.open()
        try:
            tasks = [f"task_{n}" for n in range(4)]
            reader = _start("reader", spec, "sentinel")
            for task_id in tasks:
                stored(kit, running(task_id))
            writers = [_start("writer", spec, str(seed), "25", *tasks) for seed in range(3)]
            acknowledged = [tuple(line) for w in writers for line in _lines(w)]
            stored(kit, running("sentinel"))
            read = [tuple(line) for line in _lines(reader)]
            held = {(t, r.seq) for t in tasks for r in load(kit, t).task.history}
        finally:
            kit.close()
        read_records = [(t, seq) for t, kind, seq in read if kind == "record" and t in tasks]
        assert len(acknowledged) > 0
        assert Counter(read_records) == Counter(held)  # every record exactly once
        assert set(acknowledged) <= held
        assert len(held) == len(tasks) + len(acknowledged)  # nothing lost, nothing doubled

    def test_concurrent_consumers_consume_each_entry_once(self, spec: Spec) -> None:
        """2 consumer processes on one cursor name: each entry lands in the backend's rows once."""
        kit = spec.open()
        try:
            for n in range(6):
                stored(kit, running(f"task_{n}"))
                kit.transact(f"task_{n}", lambda t: t.pause())
            consumers = [_start("consumer", spec, "shared") for _ in range(2)]
            printed = [line for c in consumers for line in _lines(c)]
            rows = kit.backend_rows()
            feed = sorted(c.cursor for c in kit.changes(limit=1000))
        finally:
            kit.close()
        assert sorted(rows) == feed
        assert sorted(printed) == feed


def _start(role: str, spec: Spec, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), role, spec.dumps(), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _lines(process: subprocess.Popen[str]) -> list[Any]:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return [json.loads(line) for line in out.splitlines()]


class TestJoinGuards:
    def test_sqlite_autocommit_connection_is_refused(self, tmp_path: Path) -> None:
        """Joining an autocommit sqlite3 connection outside a transaction raises StoreError."""
        path = tmp_path / "t.sqlite3"
        with SQLiteTaskStore(path) as store:
            db = sqlite3.connect(path, isolation_level=None)
            with pytest.raises(StoreError, match="autocommit"):
                store.join(db).add(Task("task_1"))
            db.close()
            with store.transaction() as tx, pytest.raises(TaskNotStored):
                tx.load("task_1")

    def test_postgres_autocommit_connection_is_refused(self, postgres_server: str) -> None:
        """Joining an autocommit psycopg connection outside a transaction raises StoreError."""
        with PostgresTaskStore(postgres_server, schema="guards") as store:
            with psycopg.connect(postgres_server, autocommit=True) as conn:
                with pytest.raises(StoreError, match="autocommit"):
                    store.join(conn).add(Task("task_1"))
                with conn.transaction():
                    store.join(conn).add(Task("task_2"))
            with store.transaction() as tx:
                assert tx.load("task_2").token == 1
                with pytest.raises(TaskNotStored):
                    tx.load("task_1")


class TestOpening:
    def test_unreachable_postgres_is_a_store_error_without_the_password(self) -> None:
        """A server that does not answer is StoreError; the DSN's password is in no message."""
        dsn = "postgresql://someone:s3cret-pw@127.0.0.1:1/nowhere"
        with pytest.raises(StoreError) as caught:
            PostgresTaskStore(dsn, timeout=1)
        assert "s3cret-pw" not in str(caught.value)
        assert "s3cret-pw" not in repr(caught.value)

    def test_sqlite_in_a_missing_folder_is_a_store_error(self, tmp_path: Path) -> None:
        """A file that cannot be created is StoreError, not sqlite3.OperationalError."""
        with pytest.raises(StoreError):
            SQLiteTaskStore(tmp_path / "missing" / "tasks.sqlite3")

    @pytest.mark.parametrize("timeout", [-1.0, float("nan"), float("inf"), True, "10"])
    def test_sqlite_timeout_out_of_range(self, tmp_path: Path, timeout: object) -> None:
        """A lock timeout that is not a number of seconds >= 0: InvalidArgument, no file made."""
        path = tmp_path / "tasks.sqlite3"
        with pytest.raises(InvalidArgument) as info:
            SQLiteTaskStore(path, timeout=timeout)  # type: ignore[arg-type]
        assert info.value.argument == "timeout"
        assert not path.exists()


def load_sqlite(store: SQLiteTaskStore) -> Loaded:
    with store.transaction() as tx:
        return tx.load("task_1")
