"""The local server's store: ``EmulatorStore``, its ``StoredTask``, ``SQLiteEmulatorStore``.

These classes are shaped around the emulator (owner, task text, model, paging by owner); they
hold what ``tasklife serve`` keeps until the server moves onto the neutral store port.
``SQLiteEmulatorStore`` is one SQLite file in WAL mode.

Two tables hold the data: ``tasks`` (one row per task: status, steps, revision and the v1
fields) and ``transitions`` (one row per ``TransitionRecord``, so the full history survives a
restart and a save only inserts the records added since the load). ``schema_migrations``
records which numbered migrations have been applied; opening a file applies the missing ones.

Concurrency: each thread gets its own connection (opened on first use, closed by ``close()``),
and SQLite's own locking arbitrates. Each save is one short ``BEGIN IMMEDIATE`` transaction
whose ``UPDATE ... WHERE revision = ?`` is the optimistic check, so two processes sharing the
file cannot lose each other's updates either. Measured against one connection guarded by a
lock (load-act-save loops, one task per thread): 1 thread 22k vs 20k saves/s, 4 threads 20k vs
12k, 16 threads 20k vs 14k, so connections per thread it is. ``":memory:"`` is the exception:
that database lives in one connection, so it gets one, behind a lock.
Every statement is parameterised.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from os import PathLike
from typing import Any, Final, Protocol, Self, runtime_checkable

import attrs

from tasklife.errors import InvalidTaskData
from tasklife.lifecycle import TaskStatus
from tasklife.store.connections import SQLiteConnections
from tasklife.store.errors import StoreConflict, StoreCorruption, StoreError
from tasklife.task import SCHEMA_VERSION, Task, check_id, utc_now

__all__ = [
    "MIGRATIONS",
    "EmulatorPage",
    "EmulatorStore",
    "EmulatorSummary",
    "SQLiteEmulatorStore",
    "StoredTask",
]


def _str_dict(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise TypeError(f"{attribute.name} must be a dict of str to str")


def _positive(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not int or value < 1:
        raise ValueError(f"{attribute.name} must be a positive integer, not {value!r}")


def _non_negative(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not int or value < 0:
        raise ValueError(f"{attribute.name} must be a non-negative integer, not {value!r}")


@attrs.define(eq=False)
class StoredTask:
    """A ``Task`` plus the Browser Use v1 fields the domain core does not hold.

    ``owner`` is an opaque string naming who may see the task (the server stores a SHA-256
    fingerprint of the API key, never the key). ``revision`` is the store's revision this
    record was loaded at (0: never stored); it bumps on every save, including saves that only
    moved the step counter, so no change is ever lost to a concurrent writer.
    ``persisted_version`` is how many of ``task.history`` records the store already holds.
    Both are managed by the store.
    """

    task: Task = attrs.field(validator=attrs.validators.instance_of(Task))
    owner: str = attrs.field(validator=attrs.validators.instance_of(str))
    text: str = attrs.field(validator=attrs.validators.instance_of(str))
    llm_model: str = attrs.field(default="gpt-4o", validator=attrs.validators.instance_of(str))
    max_agent_steps: int = attrs.field(default=75, validator=_positive)
    metadata: dict[str, str] = attrs.field(factory=dict, validator=_str_dict)
    output: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(str))
    )
    finished_at: datetime | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(datetime))
    )
    revision: int = attrs.field(default=0, validator=_non_negative)
    persisted_version: int = attrs.field(default=0, validator=_non_negative)

    @property
    def id(self) -> str:
        """The task's id."""
        return self.task.id

    def __repr__(self) -> str:
        return f"StoredTask({self.task!r}, revision={self.revision})"


@attrs.frozen
class EmulatorSummary:
    """What a task listing shows of one task (no history is loaded for it)."""

    id: str
    text: str
    status: TaskStatus
    steps: int
    created_at: datetime
    finished_at: datetime | None
    output: str | None


@attrs.frozen
class EmulatorPage:
    """One page of an owner's tasks, newest first, and how many tasks the owner has in all."""

    items: tuple[EmulatorSummary, ...]
    total: int


@runtime_checkable
class EmulatorStore(Protocol):
    """Keeps ``StoredTask``s; every method is safe to call from many threads at once.

    ``owner=None`` in a read means "whoever owns it" (the server's own ticker uses it); any
    other owner sees only its own tasks, and another owner's task reads as missing.
    """

    def add(self, record: StoredTask) -> None:
        """Store a new task; ``StoreConflict`` if its id is already stored."""

    def get(self, task_id: str, owner: str | None = None) -> StoredTask | None:
        """The task with its full history, or None when missing (or not ``owner``'s)."""

    def revision(self, task_id: str, owner: str | None = None) -> int | None:
        """The stored revision of a task, or None when missing (or not ``owner``'s)."""

    def status(self, task_id: str, owner: str | None = None) -> TaskStatus | None:
        """The stored status of a task, or None when missing (or not ``owner``'s)."""

    def save(self, record: StoredTask) -> None:
        """Write ``record`` if the stored revision is still ``record.revision``.

        On success ``record.revision`` and ``record.persisted_version`` are updated; on a
        stale revision ``StoreConflict`` is raised and nothing is written.
        """

    def page(self, owner: str, page: int, limit: int) -> EmulatorPage:
        """The ``page``-th (from 1) group of ``limit`` of ``owner``'s tasks, newest first."""

    def ids_with_status(self, status: TaskStatus) -> list[str]:
        """The ids of every stored task (any owner) whose status is ``status``."""

    def close(self) -> None:
        """Release the store's resources; it must not be used afterwards."""

    def __enter__(self) -> Self:
        """The store itself."""

    def __exit__(self, *exc_info: object) -> None:
        """Close the store."""


MIGRATIONS: Final[tuple[str, ...]] = (
    """
    CREATE TABLE tasks (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        owner TEXT NOT NULL,
        revision INTEGER NOT NULL,
        status TEXT NOT NULL,
        version INTEGER NOT NULL,
        steps INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        finished_at TEXT,
        text TEXT NOT NULL,
        output TEXT,
        metadata TEXT NOT NULL,
        llm_model TEXT NOT NULL,
        max_agent_steps INTEGER NOT NULL
    );
    CREATE INDEX tasks_by_owner ON tasks (owner, seq);
    CREATE INDEX tasks_by_status ON tasks (status);
    CREATE TABLE transitions (
        task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        action TEXT NOT NULL,
        source TEXT NOT NULL,
        dest TEXT NOT NULL,
        at TEXT NOT NULL,
        origin TEXT NOT NULL,
        reason TEXT,
        PRIMARY KEY (task_id, seq)
    ) WITHOUT ROWID;
    """,
    # Every pause and resume rewrote this index's pages in the same commit; the ticker's
    # once-per-tick scan of the tasks table costs less than that (measured over 2,000 tasks:
    # a status-changing save took 48 µs with the index, 38 µs without).
    """
    DROP INDEX tasks_by_status;
    """,
)
"""The numbered schema migrations, applied in order; migration ``n`` is ``MIGRATIONS[n - 1]``."""

_TASK_COLUMNS: Final = (
    "id, owner, revision, status, version, steps, created_at, finished_at, text, output, "
    "metadata, llm_model, max_agent_steps"
)
_SELECT_TASK: Final = f"SELECT {_TASK_COLUMNS} FROM tasks WHERE id = ?"  # noqa: S608 - constants
_SELECT_TASK_OWNED: Final = f"{_SELECT_TASK} AND owner = ?"
_SELECT_HISTORY: Final = (
    "SELECT seq, action, source, dest, at, origin, reason FROM transitions "
    "WHERE task_id = ? ORDER BY seq"
)
_HISTORY_KEYS: Final = ("seq", "action", "source", "dest", "at", "origin", "reason")
_INSERT_TRANSITION: Final = (
    "INSERT INTO transitions (task_id, seq, action, source, dest, at, origin, reason) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPDATE_TASK: Final = (
    "UPDATE tasks SET revision = revision + 1, status = ?, version = ?, steps = ?, "
    "finished_at = ?, output = ? WHERE id = ? AND revision = ?"
)


class SQLiteEmulatorStore:
    """An ``EmulatorStore`` in one SQLite file (created when missing; ``":memory:"`` works too).

    >>> from tasklife import Task
    >>> from tasklife.store import SQLiteEmulatorStore, StoredTask
    >>> with SQLiteEmulatorStore(":memory:") as store:
    ...     task = Task("task_1")
    ...     _ = task.start()
    ...     store.add(StoredTask(task, owner="me", text="find a flight"))
    ...     loaded = store.get("task_1", owner="me")
    ...     loaded.task.status, loaded.revision, store.get("task_1", owner="you")
    (<TaskStatus.RUNNING: 'running'>, 1, None)
    """

    def __init__(self, path: str | PathLike[str], *, timeout: float = 10.0) -> None:
        self._path = str(path)
        try:
            self._connections = SQLiteConnections(self._path, timeout)
            self._lock = self._connections.lock
            db = self._db
            db.execute("PRAGMA journal_mode = WAL")
            self._migrate(db)
        except sqlite3.Error as error:
            if hasattr(self, "_connections"):
                self.close()
            raise StoreError(f"cannot open the task store at {self._path!r}: {error}") from None

    def __repr__(self) -> str:
        return f"SQLiteEmulatorStore({self._path!r})"

    @property
    def path(self) -> str:
        """The database file's path."""
        return self._path

    @property
    def schema_version(self) -> int:
        """The number of the newest migration applied to the file."""
        with self._lock:
            self._check_open()
            row = self._db.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    # writing -----------------------------------------------------------------------------

    def add(self, record: StoredTask) -> None:
        """Insert a new task and its history; ``StoreConflict`` if the id is taken."""
        task = record.task
        data = task.to_dict()
        with self._transaction() as db:
            try:
                db.execute(
                    f"INSERT INTO tasks ({_TASK_COLUMNS}) "  # noqa: S608 - constant columns
                    "VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        task.id,
                        record.owner,
                        data["status"],
                        data["version"],
                        data["steps"],
                        data["created_at"],
                        _iso(record.finished_at),
                        record.text,
                        record.output,
                        json.dumps(record.metadata),
                        record.llm_model,
                        record.max_agent_steps,
                    ),
                )
            except sqlite3.IntegrityError:
                raise StoreConflict(task.id, 0, self._revision(db, task.id, None)) from None
            db.executemany(_INSERT_TRANSITION, _rows(task.id, data["history"]))
        record.revision = 1
        record.persisted_version = data["version"]

    def save(self, record: StoredTask) -> None:
        """Write ``record`` if nobody saved it since it was loaded (else ``StoreConflict``).

        Only the records added since the load are written, so a save costs the same however
        long the history has grown.
        """
        task = record.task
        history = task.history
        new = history[record.persisted_version :]
        with self._transaction() as db:
            cursor = db.execute(
                _UPDATE_TASK,
                (
                    task.status.value,
                    len(history),
                    task.steps,
                    _iso(record.finished_at),
                    record.output,
                    task.id,
                    record.revision,
                ),
            )
            if cursor.rowcount != 1:
                raise StoreConflict(task.id, record.revision, self._revision(db, task.id, None))
            if new:
                db.executemany(_INSERT_TRANSITION, _rows(task.id, [r.to_dict() for r in new]))
        record.revision += 1
        record.persisted_version = len(history)

    # reading -----------------------------------------------------------------------------

    def get(self, task_id: str, owner: str | None = None) -> StoredTask | None:
        """The task with its full history, or None when missing or not ``owner``'s."""
        task_id = check_id(task_id, "task_id")
        with self._snapshot() as db:
            row = self._task_row(db, task_id, owner)
            if row is None:
                return None
            history = db.execute(_SELECT_HISTORY, (task_id,)).fetchall()
        return _record(row, history)

    def revision(self, task_id: str, owner: str | None = None) -> int | None:
        """The stored revision of a task, or None when missing or not ``owner``'s."""
        task_id = check_id(task_id, "task_id")
        with self._lock:
            self._check_open()
            return self._revision(self._db, task_id, owner)

    def status(self, task_id: str, owner: str | None = None) -> TaskStatus | None:
        """The stored status of a task, or None when missing or not ``owner``'s."""
        task_id = check_id(task_id, "task_id")
        with self._lock:
            self._check_open()
            if owner is None:
                row = self._db.execute("SELECT status FROM tasks WHERE id = ?", (task_id,))
            else:
                row = self._db.execute(
                    "SELECT status FROM tasks WHERE id = ? AND owner = ?", (task_id, owner)
                )
            found = row.fetchone()
        if found is None:
            return None
        try:
            return TaskStatus(found[0])
        except ValueError:
            raise StoreCorruption(task_id, f"status: {found[0]!r} is not a status") from None

    def page(self, owner: str, page: int, limit: int) -> EmulatorPage:
        """The ``page``-th (from 1) group of ``limit`` of ``owner``'s tasks, newest first."""
        if type(page) is not int or page < 1:
            raise InvalidTaskData("page", f"must be a positive integer, not {page!r}")
        if type(limit) is not int or limit < 1:
            raise InvalidTaskData("limit", f"must be a positive integer, not {limit!r}")
        with self._snapshot() as db:
            total = int(
                db.execute("SELECT count(*) FROM tasks WHERE owner = ?", (owner,)).fetchone()[0]
            )
            offset = (page - 1) * limit
            rows = (
                []
                if offset >= total
                else db.execute(
                    "SELECT id, text, status, steps, created_at, finished_at, output FROM tasks "
                    "WHERE owner = ? ORDER BY seq DESC LIMIT ? OFFSET ?",
                    (owner, limit, offset),
                ).fetchall()
            )
        return EmulatorPage(tuple(_summary(row) for row in rows), total)

    def ids_with_status(self, status: TaskStatus) -> list[str]:
        """The ids of every stored task whose status is ``status``, oldest first."""
        with self._lock:
            self._check_open()
            rows = self._db.execute(
                "SELECT id FROM tasks WHERE status = ? ORDER BY seq", (TaskStatus(status).value,)
            ).fetchall()
        return [row[0] for row in rows]

    # lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close every connection (idempotent); the store must not be in use meanwhile."""
        self._connections.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # internals ---------------------------------------------------------------------------

    @property
    def _db(self) -> sqlite3.Connection:
        """This thread's connection (the shared one for an in-memory database)."""
        return self._connections.get()

    def _check_open(self) -> None:
        self._connections.get()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._check_open()
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as error:
                raise StoreError(f"cannot write to the task store: {error}") from None
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            try:
                db.execute("COMMIT")
            except sqlite3.Error as error:
                db.execute("ROLLBACK")
                raise StoreError(f"cannot write to the task store: {error}") from None

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every statement in it sees the same committed state."""
        with self._lock:
            self._check_open()
            db = self._db
            db.execute("BEGIN")
            try:
                yield db
            finally:
                db.execute("COMMIT")

    @staticmethod
    def _task_row(
        db: sqlite3.Connection, task_id: str, owner: str | None
    ) -> tuple[Any, ...] | None:
        if owner is None:
            found: tuple[Any, ...] | None = db.execute(_SELECT_TASK, (task_id,)).fetchone()
        else:
            found = db.execute(_SELECT_TASK_OWNED, (task_id, owner)).fetchone()
        return found

    @staticmethod
    def _revision(db: sqlite3.Connection, task_id: str, owner: str | None) -> int | None:
        if owner is None:
            cursor = db.execute("SELECT revision FROM tasks WHERE id = ?", (task_id,))
        else:
            cursor = db.execute(
                "SELECT revision FROM tasks WHERE id = ? AND owner = ?", (task_id, owner)
            )
        row = cursor.fetchone()
        return None if row is None else int(row[0])

    def _migrate(self, db: sqlite3.Connection) -> None:
        db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        applied = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
        newest = max(applied, default=0)
        if newest > len(MIGRATIONS):
            raise sqlite3.DatabaseError(
                f"the file's schema (migration {newest}) is newer than this tasklife knows "
                f"({len(MIGRATIONS)}); upgrade tasklife"
            )
        for number, script in enumerate(MIGRATIONS, start=1):
            if number in applied:
                continue
            db.execute("BEGIN IMMEDIATE")
            try:
                again = "SELECT 1 FROM schema_migrations WHERE version = ?"
                if db.execute(again, (number,)).fetchone():  # another process was first
                    db.execute("ROLLBACK")
                    continue
                for statement in script.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    (number, utc_now().isoformat()),
                )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat()


def _rows(task_id: str, history: list[dict[str, Any]]) -> Iterator[tuple[Any, ...]]:
    for r in history:
        yield (task_id, r["seq"], r["action"], r["source"], r["dest"], r["at"], r["origin"],
               r["reason"])  # fmt: skip


def _record(row: tuple[Any, ...], history: list[tuple[Any, ...]]) -> StoredTask:
    (task_id, owner, revision, status, version, steps, created_at, finished_at, text, output,
     metadata, llm_model, max_agent_steps) = row  # fmt: skip
    try:
        task = Task.from_dict(
            {
                "schema_version": SCHEMA_VERSION,
                "id": task_id,
                "status": status,
                "version": version,
                "steps": steps,
                "created_at": created_at,
                "history": [dict(zip(_HISTORY_KEYS, row, strict=True)) for row in history],
            }
        )
        return StoredTask(
            task,
            owner=owner,
            text=text,
            llm_model=llm_model,
            max_agent_steps=max_agent_steps,
            metadata=json.loads(metadata),
            output=output,
            finished_at=None if finished_at is None else datetime.fromisoformat(finished_at),
            revision=revision,
            persisted_version=version,
        )
    except (InvalidTaskData, TypeError, ValueError) as error:
        raise StoreCorruption(str(task_id), str(error)) from None


def _summary(row: tuple[Any, ...]) -> EmulatorSummary:
    task_id, text, status, steps, created_at, finished_at, output = row
    try:
        return EmulatorSummary(
            id=task_id,
            text=text,
            status=TaskStatus(status),
            steps=steps,
            created_at=datetime.fromisoformat(created_at),
            finished_at=None if finished_at is None else datetime.fromisoformat(finished_at),
            output=output,
        )
    except (TypeError, ValueError) as error:
        raise StoreCorruption(str(task_id), str(error)) from None
