"""SQLiteEmulatorStore on a real file: round trips, optimistic saves, owners, migrations."""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tasklife import Task, TaskConflict, TaskStatus
from tasklife.store import (
    EmulatorStore,
    SQLiteEmulatorStore,
    StoreConflict,
    StoreCorruption,
    StoredTask,
    StoreError,
)
from tasklife.store.emulator import MIGRATIONS


@pytest.fixture
def store(db_path: Path) -> Iterator[SQLiteEmulatorStore]:
    with SQLiteEmulatorStore(db_path) as opened:
        yield opened


def two_copies(store: SQLiteEmulatorStore) -> tuple[StoredTask, StoredTask]:
    """A running task added to ``store``, then loaded twice, as two racing writers would."""
    store.add(running())
    first, second = store.get("task_1"), store.get("task_1")
    assert first is not None
    assert second is not None
    return first, second


def running(task_id: str = "task_1", owner: str = "alice", **fields: object) -> StoredTask:
    task = Task(task_id)
    task.start()
    return StoredTask(task, owner=owner, text="do it", **fields)  # type: ignore[arg-type]


class TestRoundTrip:
    def test_is_a_task_store(self, store: SQLiteEmulatorStore) -> None:
        """SQLiteEmulatorStore satisfies the EmulatorStore protocol."""
        assert isinstance(store, EmulatorStore)

    def test_get_returns_what_was_added(self, store: SQLiteEmulatorStore) -> None:
        """Every field of the record comes back, the task equal to the one added."""
        record = running(metadata={"a": "b"}, llm_model="m", max_agent_steps=9)
        store.add(record)
        loaded = store.get("task_1")
        assert loaded is not None
        assert loaded.task == record.task
        assert (loaded.metadata, loaded.llm_model, loaded.max_agent_steps, loaded.text) == (
            {"a": "b"},
            "m",
            9,
            "do it",
        )

    def test_history_survives_reopening(self, db_path: Path) -> None:
        """A closed and reopened file holds the full history."""
        record = running()
        record.task.advance(3)
        record.task.pause()
        with SQLiteEmulatorStore(db_path) as first:
            first.add(record)
        with SQLiteEmulatorStore(db_path) as second:
            loaded = second.get("task_1")
        assert loaded is not None
        assert loaded.task.history == record.task.history
        assert loaded.task.steps == 3

    def test_finished_at_and_output_survive(self, store: SQLiteEmulatorStore) -> None:
        """finished_at and output are saved and loaded."""
        record = running()
        store.add(record)
        record.task.finish()
        record.finished_at = datetime(2026, 1, 1, tzinfo=UTC)
        record.output = "done"
        store.save(record)
        loaded = store.get("task_1")
        assert loaded is not None
        assert (loaded.finished_at, loaded.output) == (record.finished_at, "done")

    def test_hostile_id_is_stored_literally(self, store: SQLiteEmulatorStore) -> None:
        """An id full of SQL is data, not code: it round-trips and the tables survive."""
        task_id = "task_');DROP_TABLE_tasks;--"
        store.add(running(task_id))
        loaded = store.get(task_id)
        assert loaded is not None
        assert loaded.id == task_id

    def test_missing_task_is_none(self, store: SQLiteEmulatorStore) -> None:
        """get, revision and status answer None for an unknown id."""
        assert (store.get("task_x"), store.revision("task_x"), store.status("task_x")) == (
            None,
            None,
            None,
        )


class TestOptimisticSaves:
    def test_add_sets_revision_one(self, store: SQLiteEmulatorStore) -> None:
        """A new record is at revision 1 once added."""
        record = running()
        store.add(record)
        assert (record.revision, store.revision("task_1")) == (1, 1)

    def test_every_save_bumps_the_revision(self, store: SQLiteEmulatorStore) -> None:
        """A save that only moved the step counter still bumps the revision."""
        record = running()
        store.add(record)
        record.task.advance()
        store.save(record)
        assert (record.revision, store.revision("task_1")) == (2, 2)

    def test_stale_save_raises_store_conflict(self, store: SQLiteEmulatorStore) -> None:
        """Saving a record loaded before someone else's save raises StoreConflict."""
        first, second = two_copies(store)
        first.task.pause()
        store.save(first)
        second.task.stop()
        with pytest.raises(StoreConflict) as caught:
            store.save(second)
        assert (caught.value.expected, caught.value.actual) == (1, 2)

    def test_stale_save_writes_nothing(self, store: SQLiteEmulatorStore) -> None:
        """After a refused save the stored task is the winner's, history and all."""
        first, second = two_copies(store)
        first.task.pause()
        store.save(first)
        second.task.advance(5)
        with pytest.raises(StoreConflict):
            store.save(second)
        loaded = store.get("task_1")
        assert loaded is not None
        assert (loaded.task.status, loaded.task.steps, loaded.task.version) == (
            TaskStatus.PAUSED,
            0,
            2,
        )

    def test_steps_change_is_not_lost(self, store: SQLiteEmulatorStore) -> None:
        """A save that only advanced steps makes a concurrent status save stale."""
        stepper, pauser = two_copies(store)
        stepper.task.advance()
        store.save(stepper)
        pauser.task.pause()
        with pytest.raises(StoreConflict):
            store.save(pauser)

    def test_duplicate_add_is_a_conflict(self, store: SQLiteEmulatorStore) -> None:
        """Adding an id twice raises StoreConflict and keeps the first."""
        store.add(running("task_1"))
        with pytest.raises(StoreConflict):
            store.add(running("task_1", owner="bob"))
        loaded = store.get("task_1")
        assert loaded is not None
        assert loaded.owner == "alice"

    def test_conflict_is_a_task_conflict_and_pickles(self) -> None:
        """StoreConflict is a TaskConflict and survives pickling with its fields."""
        error = StoreConflict("task_1", 3, 4)
        assert isinstance(error, TaskConflict)
        copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
        assert (copy.task_id, copy.expected, copy.actual, str(copy)) == (
            "task_1",
            3,
            4,
            str(error),
        )


class TestOwners:
    def test_other_owner_sees_nothing(self, store: SQLiteEmulatorStore) -> None:
        """Reads filtered by another owner find nothing."""
        store.add(running())
        assert (store.get("task_1", "bob"), store.revision("task_1", "bob")) == (None, None)
        assert store.status("task_1", "bob") is None

    def test_page_is_per_owner_and_newest_first(self, store: SQLiteEmulatorStore) -> None:
        """page() lists only the owner's tasks, newest first, with the owner's total."""
        for n in range(3):
            store.add(running(f"task_a{n}"))
        store.add(running("task_b", owner="bob"))
        page = store.page("alice", 1, 2)
        assert ([s.id for s in page.items], page.total) == (["task_a2", "task_a1"], 3)

    def test_ids_with_status_spans_owners(self, store: SQLiteEmulatorStore) -> None:
        """ids_with_status finds every owner's tasks in that status, oldest first."""
        store.add(running("task_a"))
        store.add(running("task_b", owner="bob"))
        assert store.ids_with_status(TaskStatus.RUNNING) == ["task_a", "task_b"]


class TestSchema:
    def test_wal_mode(self, store: SQLiteEmulatorStore, db_path: Path) -> None:
        """The file is in WAL journal mode."""
        with sqlite3.connect(db_path) as db:
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)

    def test_migrations_are_recorded_once(self, db_path: Path) -> None:
        """Reopening a file applies no migration twice."""
        SQLiteEmulatorStore(db_path).close()
        with SQLiteEmulatorStore(db_path) as store:
            assert store.schema_version == len(MIGRATIONS)
        with sqlite3.connect(db_path) as db:
            rows = db.execute("SELECT version FROM schema_migrations").fetchall()
        assert rows == [(n,) for n in range(1, len(MIGRATIONS) + 1)]

    def test_old_file_is_migrated(self, db_path: Path) -> None:
        """A file at migration 1 (with its tasks) is brought to the newest schema on open."""
        with sqlite3.connect(db_path) as db:
            db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                       "applied_at TEXT NOT NULL)")  # fmt: skip
            db.executescript(MIGRATIONS[0])
            db.execute("INSERT INTO schema_migrations VALUES (1, 'then')")
        with SQLiteEmulatorStore(db_path) as store:
            store.add(running())
            assert store.schema_version == len(MIGRATIONS)
        with sqlite3.connect(db_path) as db:
            indexes = {row[0] for row in db.execute("SELECT name FROM sqlite_master "
                                                    "WHERE type = 'index'")}  # fmt: skip
        assert "tasks_by_status" not in indexes

    def test_newer_schema_is_refused(self, db_path: Path) -> None:
        """A file written by a newer tasklife is refused with StoreError, not misread."""
        SQLiteEmulatorStore(db_path).close()
        with sqlite3.connect(db_path) as db:
            db.execute("INSERT INTO schema_migrations VALUES (99, 'later')")
        with pytest.raises(StoreError, match="newer"):
            SQLiteEmulatorStore(db_path)

    def test_corrupt_row_is_store_corruption(
        self, store: SQLiteEmulatorStore, db_path: Path
    ) -> None:
        """A row whose history does not chain raises StoreCorruption naming the task."""
        store.add(running())
        with sqlite3.connect(db_path) as db:
            db.execute("UPDATE transitions SET dest = 'finished' WHERE task_id = 'task_1'")
        with pytest.raises(StoreCorruption, match="task_1"):
            store.get("task_1")

    def test_unopenable_path_is_store_error(self, tmp_path: Path) -> None:
        """A path that cannot hold a database raises StoreError."""
        with pytest.raises(StoreError):
            SQLiteEmulatorStore(tmp_path / "missing-folder" / "tasks.sqlite3")

    def test_closed_store_refuses(self, db_path: Path) -> None:
        """Using a closed store raises StoreError."""
        store = SQLiteEmulatorStore(db_path)
        store.close()
        with pytest.raises(StoreError, match="closed"):
            store.get("task_1")
