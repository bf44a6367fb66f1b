"""The SQL plan of every store operation, written once for every adapter (sans-I/O).

Each operation is a generator that yields ``Statement``s and receives their ``Rows``; it holds
every decision (what changed, which rows to write, what a stale token means, how a feed entry
is read back) and does no I/O. Thin drivers (``tasklife.store.drivers``) run the same flows on
``sqlite3``, on a psycopg connection and on a psycopg async connection. ``Sql`` holds the text
of each statement for one engine and one set of table names; every value is a parameter.

The change feed's order. Each entry carries ``(xid, id)``: on PostgreSQL ``xid`` is the writing
transaction's id (``pg_current_xact_id()``) and ``id`` a sequence; on SQLite ``xid`` is 0 and
``id`` an ``AUTOINCREMENT`` key. A read returns only entries whose ``xid`` is below the
*horizon*, ordered by ``(xid, id)``. On PostgreSQL the horizon is the reading snapshot's
``xmin``: every transaction with a smaller id has ended, so no entry can ever appear below a
cursor that a read handed out, whatever order the writers commit in (a sequence alone would
skip: an ``id`` is taken before commit, so a smaller one can become visible after a larger
one was read). On SQLite writers are serialised (one write transaction at a time, ids taken
inside it, never reused thanks to ``AUTOINCREMENT``), so ``id`` order is commit order and the
horizon is 1 (every entry).
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, TypeVar, cast

import attrs

from tasklife.errors import InvalidArgument, InvalidTaskData, interval, positive_int
from tasklife.store.errors import StoreConflict, StoreCorruption, StoreError, TaskNotStored
from tasklife.store.port import Change, ChangeKind, Loaded
from tasklife.task import Clock, Task, check_id

__all__ = [
    "MAX_LIMIT",
    "NOTHING",
    "Flow",
    "Rows",
    "Sql",
    "Statement",
    "add",
    "changes",
    "consume",
    "cursor",
    "identifier",
    "load",
    "migrate",
    "newest",
    "prune",
    "replace",
    "save",
    "set_cursor",
]

R = TypeVar("R")
MAX_LIMIT: Final = 10_000
"""The most feed entries one read returns."""
_ROWS_PER_INSERT: Final = 200
_IDENTIFIER: Final = re.compile(r"[a-z_][a-z0-9_]{0,40}")
_KINDS: Final[dict[str, ChangeKind]] = {
    "added": "added",
    "record": "record",
    "replaced": "replaced",
}


@attrs.frozen
class Statement:
    """One SQL statement and its parameters.

    ``deferred`` marks a wake-up hint (``NOTIFY``) that a driver owning the transaction runs
    right after the commit instead of inside it: PostgreSQL holds a cluster-wide lock from a
    notifying transaction's commit until its WAL is flushed, which would serialise every
    writer's commit. A driver inside the caller's transaction runs it in place.
    """

    sql: str
    params: tuple[Any, ...] = ()
    deferred: bool = False


@attrs.frozen
class Rows:
    """What a statement gave back: its rows (none for a write) and its row count."""

    rows: list[tuple[Any, ...]]
    rowcount: int


NOTHING: Final = Rows([], -1)
"""What a driver hands back for a statement it deferred."""

Flow = Generator[Statement, Rows, R]
"""An operation: yields statements, receives their rows, returns its result."""


@attrs.define
class Sql:
    """The statements of one engine over one set of tables.

    ``tables`` maps ``tasks``, ``records``, ``changes``, ``cursors`` and ``migrations`` to
    their quoted, qualified names; ``records_json`` is an aggregate that turns a task's record
    rows ``r`` into one JSON array; ``horizon`` the feed's read horizon (see the module);
    ``lock`` what locks a selected row for the transaction (empty where writes are serialised);
    ``notify`` the statement that wakes watchers (None where the engine cannot push);
    ``bootstrap`` makes the migrations table; ``migrations`` are the numbered scripts.
    ``placeholder`` replaces ``%s`` in every statement. ``save_in_one`` is, where the engine
    can write several tables from one statement, the statement that makes a whole save
    (see ``save``); None runs a save as one statement per table. ``engine`` (``"sqlite"`` or
    ``"postgresql"``), ``prefix`` and ``schema`` say where the tables live, so that modules
    keeping tables beside the store's name theirs alike (``table``, ``index``).
    """

    tables: dict[str, str]
    records_json: str
    horizon: str
    lock: str
    notify: Statement | None
    bootstrap: tuple[Statement, ...]
    migrations: tuple[tuple[str, ...], ...]
    placeholder: str = "%s"
    save_in_one: str | None = None
    engine: Literal["sqlite", "postgresql"] = "sqlite"
    prefix: str = ""
    schema: str | None = None
    _texts: dict[str, str] = attrs.field(factory=dict, init=False, repr=False)

    def table(self, name: str) -> str:
        """The quoted, qualified name of a table named ``name`` beside the store's tables."""
        quoted = f'"{self.prefix}{identifier(name, "name")}"'
        return quoted if self.schema is None else f'"{self.schema}".{quoted}'

    def index(self, name: str) -> str:
        """The quoted name of an index named ``name`` (indexes live with their table)."""
        return f'"{self.prefix}{identifier(name, "name")}"'

    def text(self, template: str) -> str:
        """``template`` with the names filled in and ``%s`` as this engine's placeholder."""
        found = self._texts.get(template)
        if found is None:
            names = self.tables | {"records_json": self.records_json, "horizon": self.horizon}
            found = self._texts[template] = template.format(**names).replace("%s", self.placeholder)
        return found


# The statements, with {table} names to fill in and %s placeholders. -------------------------

_LOAD: Final = (
    "SELECT t.token, t.head, (SELECT {records_json} FROM {records} r WHERE r.task_id = t.id) "
    "FROM {tasks} t WHERE t.id = %s"
)
_CURRENT: Final = "SELECT token FROM {tasks} WHERE id = %s"
_INSERT_TASK: Final = (
    "INSERT INTO {tasks} (id, token, status, version, steps, head) "
    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING"
)
_UPDATE_TASK: Final = (
    "UPDATE {tasks} SET token = %s, status = %s, version = %s, steps = %s, head = %s "
    "WHERE id = %s AND token = %s"
)
_DELETE_RECORDS: Final = "DELETE FROM {records} WHERE task_id = %s"
_INSERT_RECORDS: Final = "INSERT INTO {records} (task_id, seq, data) VALUES "
_INSERT_CHANGES: Final = "INSERT INTO {changes} (task_id, kind, token, data, created_at) VALUES "
_CHANGES: Final = (
    "SELECT xid, id, task_id, kind, token, data FROM {changes} "
    "WHERE (xid, id) > (%s, %s) AND xid < {horizon} ORDER BY xid, id LIMIT %s"
)
_CURSOR: Final = "SELECT position FROM {cursors} WHERE name = %s"
_CLAIM_CURSOR: Final = (
    "INSERT INTO {cursors} (name, position, updated_at) VALUES (%s, '', %s) "
    "ON CONFLICT (name) DO NOTHING"
)
_SET_CURSOR: Final = (
    "INSERT INTO {cursors} (name, position, updated_at) VALUES (%s, %s, %s) "
    "ON CONFLICT (name) DO UPDATE SET position = excluded.position, "
    "updated_at = excluded.updated_at"
)
_NEWEST: Final = "SELECT max(id) FROM {changes}"
_PRUNE: Final = "DELETE FROM {changes} WHERE created_at < %s"
_APPLIED: Final = "SELECT version FROM {migrations}"
_RECORD_MIGRATION: Final = "INSERT INTO {migrations} (version, applied_at) VALUES (%s, %s)"


# Writing --------------------------------------------------------------------------------------


def add(sql: Sql, task: Task, clock: Clock) -> Flow[Loaded]:
    """Insert a new task at token 1 with its records; the feed gets ``added`` and the records."""
    data = cast("dict[str, Any]", task.to_dict())  # the head and history, split below
    history = data.pop("history")
    head = json.dumps(data)
    inserted = yield Statement(
        sql.text(_INSERT_TASK),
        (task.id, 1, data["status"], data["version"], data["steps"], head),
    )
    if inserted.rowcount != 1:
        raise StoreConflict(task.id, 0, (yield from _token(sql, task.id)))
    yield from _insert_records(sql, task.id, history)
    whole = json.dumps(data | {"history": history})
    entries = [("added", whole), *(("record", json.dumps(r)) for r in history)]
    yield from _append(sql, task.id, 1, entries, clock)
    return Loaded(task, 1, data["version"], data["steps"])


def save(sql: Sql, loaded: Loaded, clock: Clock) -> Flow[Loaded]:
    """Write what changed since ``loaded`` if the token is still ``loaded.token``."""
    task = loaded.task
    data = task.head()  # the records are written one by one: only the new ones are encoded
    if data["version"] < loaded.version:
        raise InvalidTaskData(
            "history", f"has {data['version']} records, fewer than the {loaded.version} stored: "
            "a history that does not extend the stored one is stored with replace()",
        )  # fmt: skip
    if data["version"] == loaded.version and data["steps"] == loaded.steps:
        actual = yield from _token(sql, task.id)
        if actual != loaded.token:
            raise StoreConflict(task.id, loaded.token, actual)
        return loaded
    new = [record.to_dict() for record in task.history[loaded.version : data["version"]]]
    if sql.save_in_one is None:
        token = yield from _update(sql, data, loaded.token)
        encoded = [json.dumps(r) for r in new]  # once, for the record and its feed entry
        rows = [(task.id, r["seq"], text) for r, text in zip(new, encoded, strict=True)]
        yield from _insert_many(sql, _INSERT_RECORDS, rows)
        yield from _append(sql, task.id, token, [("record", text) for text in encoded], clock)
    else:
        token = yield from _save_in_one(sql, data, loaded.token, new, clock)
    return Loaded(task, token, data["version"], data["steps"])


def _save_in_one(
    sql: Sql,
    data: dict[str, Any],
    expected: int,
    new: Sequence[Mapping[str, Any]],
    clock: Clock,
) -> Flow[int]:
    """The whole save in one statement: the conditional update, the records, the feed
    entries and the wake-up, which writes nothing at all when the token is stale.

    The template takes the update's parameters, the new records as one JSON array and the
    feed's timestamp; it returns a row only when the update matched.
    """
    assert sql.save_in_one is not None  # noqa: S101 - save() checked
    task_id = data["id"]
    token = expected + 1
    moved = yield Statement(
        sql.text(sql.save_in_one),
        (token, data["status"], data["version"], data["steps"], json.dumps(data), task_id,
         expected, json.dumps(new), _now(clock)),
    )  # fmt: skip
    if not moved.rows:
        raise StoreConflict(task_id, expected, (yield from _token(sql, task_id)))
    if new and sql.notify is not None:
        yield sql.notify
    return token


def replace(sql: Sql, task: Task, token: int, clock: Clock) -> Flow[Loaded]:
    """Store ``task`` in place of the stored task at ``token``; the feed gets ``replaced``."""
    positive_int("token", token)
    data = cast("dict[str, Any]", task.to_dict())  # the head and history, split below
    history = data.pop("history")
    new_token = yield from _update(sql, data, token)
    yield Statement(sql.text(_DELETE_RECORDS), (task.id,))
    yield from _insert_records(sql, task.id, history)
    whole = json.dumps(data | {"history": history})
    yield from _append(sql, task.id, new_token, [("replaced", whole)], clock)
    return Loaded(task, new_token, data["version"], data["steps"])


def _update(sql: Sql, data: dict[str, Any], expected: int) -> Flow[int]:
    """Move the task row from token ``expected`` to the next one; the new token."""
    task_id = data["id"]
    token = expected + 1
    moved = yield Statement(
        sql.text(_UPDATE_TASK),
        (token, data["status"], data["version"], data["steps"], json.dumps(data), task_id,
         expected),
    )  # fmt: skip
    if moved.rowcount != 1:
        raise StoreConflict(task_id, expected, (yield from _token(sql, task_id)))
    return token


def _token(sql: Sql, task_id: str) -> Flow[int | None]:
    found = yield Statement(sql.text(_CURRENT), (task_id,))
    return int(found.rows[0][0]) if found.rows else None


def _insert_records(sql: Sql, task_id: str, history: list[dict[str, Any]]) -> Flow[None]:
    rows = [(task_id, r["seq"], json.dumps(r)) for r in history]
    yield from _insert_many(sql, _INSERT_RECORDS, rows)


def _append(
    sql: Sql, task_id: str, token: int, entries: list[tuple[str, str]], clock: Clock
) -> Flow[None]:
    """Append feed entries (kind, JSON) in this transaction, and wake the watchers."""
    if not entries:
        return
    at = _now(clock)
    yield from _insert_many(
        sql, _INSERT_CHANGES, [(task_id, kind, token, data, at) for kind, data in entries]
    )
    if sql.notify is not None:
        yield sql.notify


def _insert_many(sql: Sql, head: str, rows: Sequence[tuple[Any, ...]]) -> Flow[None]:
    """Insert ``rows`` with as few statements as the engines' parameter limits allow."""
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start : start + _ROWS_PER_INSERT]
        group = "(" + ", ".join(["%s"] * len(chunk[0])) + ")"
        values = ", ".join([group] * len(chunk))
        yield Statement(sql.text(head + values), tuple(v for row in chunk for v in row))


# Reading --------------------------------------------------------------------------------------


def load(sql: Sql, task_id: str) -> Flow[Loaded]:
    """The stored task with its history and token; ``TaskNotStored`` when there is none."""
    check_id(task_id, "task_id")
    found = yield Statement(sql.text(_LOAD), (task_id,))
    if not found.rows:
        raise TaskNotStored(task_id)
    token, head, records = found.rows[0]
    try:
        data = _json(head)
        history = sorted(_json(records) or [], key=lambda r: r["seq"])
        task = Task.from_dict({**data, "history": history})
    except (InvalidTaskData, TypeError, ValueError, KeyError) as error:
        raise StoreCorruption(task_id, str(error)) from None
    return Loaded.of(task, int(token))


def changes(sql: Sql, after: str | None, limit: int) -> Flow[list[Change]]:
    """Up to ``limit`` feed entries after the cursor ``after``, in feed order."""
    xid, entry = _position(after)
    positive_int("limit", limit, most=MAX_LIMIT)
    found = yield Statement(sql.text(_CHANGES), (xid, entry, limit))
    return [_change(row) for row in found.rows]


def cursor(sql: Sql, name: str) -> Flow[str | None]:
    """The position saved under ``name``, or None."""
    found = yield Statement(sql.text(_CURSOR), (_name(name),))
    return (found.rows[0][0] or None) if found.rows else None


def set_cursor(sql: Sql, name: str, position: str | None, clock: Clock) -> Flow[None]:
    """Save ``position`` (None: the start) under ``name``."""
    if position is not None:
        _position(position, "cursor")
    yield Statement(sql.text(_SET_CURSOR), (_name(name), position or "", _now(clock)))


def consume(sql: Sql, name: str, limit: int, clock: Clock) -> Flow[list[Change]]:
    """The entries after the cursor ``name``, moving the cursor past them (row locked)."""
    yield Statement(sql.text(_CLAIM_CURSOR), (_name(name), _now(clock)))
    found = yield Statement(sql.text(_CURSOR) + sql.lock, (name,))
    entries = yield from changes(sql, found.rows[0][0] or None, limit)
    if entries:
        yield from set_cursor(sql, name, entries[-1].cursor, clock)
    return entries


def newest(sql: Sql) -> Flow[int]:
    """The newest feed entry's id (0: none), for engines that must poll."""
    found = yield Statement(sql.text(_NEWEST))
    return int(found.rows[0][0] or 0)


def prune(sql: Sql, older_than: timedelta, clock: Clock) -> Flow[int]:
    """Delete the feed entries written more than ``older_than`` ago; how many went."""
    interval("older_than", older_than)
    gone = yield Statement(sql.text(_PRUNE), (_stamp(clock() - older_than),))
    return gone.rowcount


def migrate(sql: Sql, clock: Clock) -> Flow[int]:
    """Apply the numbered migrations the database lacks; the newest migration's number."""
    for statement in sql.bootstrap:
        yield Statement(sql.text(statement.sql), statement.params)
    applied = {int(row[0]) for row in (yield Statement(sql.text(_APPLIED))).rows}
    known = len(sql.migrations)
    if max(applied, default=0) > known:
        raise StoreError(
            f"the database's task store schema (migration {max(applied)}) is newer than this "
            f"tasklife knows ({known}); upgrade tasklife"
        )
    for number, script in enumerate(sql.migrations, start=1):
        if number not in applied:
            for text in script:
                yield Statement(sql.text(text))
            yield Statement(sql.text(_RECORD_MIGRATION), (number, _now(clock)))
    return known


def _now(clock: Clock) -> str:
    return _stamp(clock())


def _stamp(at: datetime) -> str:
    """A time as the feed stores it: ISO 8601 in UTC to the microsecond, so text sorts in time."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


# Decoding -------------------------------------------------------------------------------------


def _json(value: Any) -> Any:
    """A JSON column's value: drivers hand back text (SQLite) or the parsed value (psycopg)."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def _change(row: tuple[Any, ...]) -> Change:
    xid, entry, task_id, kind, token, data = row
    found = _KINDS.get(kind)
    value = _json(data)
    if found is None or not isinstance(value, dict):
        raise StoreCorruption(str(task_id), f"feed entry {xid}:{entry} is not a change")
    return Change(f"{xid}:{entry}", task_id, found, int(token), value)


def _position(cursor: object, argument: str = "after") -> tuple[int, int]:
    """The ``(xid, id)`` a cursor stands at; the feed's start for None."""
    if cursor is None:
        return (0, 0)
    parts = cursor.split(":") if isinstance(cursor, str) else ()
    if len(parts) != 2 or not all(p.isdigit() and p.isascii() for p in parts):
        raise InvalidArgument(argument, f"{cursor!r} is not a cursor of the change feed")
    return (int(parts[0]), int(parts[1]))


def identifier(value: object, argument: str) -> str:
    """``value`` if it can name tables (lower-case ASCII letters, digits, _; at most 41)."""
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise InvalidArgument(argument, "must be lower-case letters, digits and _ (at most 41)")
    return value


def _name(name: object) -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= 200 or not name.isprintable():
        raise InvalidArgument("name", "a cursor name is 1 to 200 printable characters")
    return name
