"""Tables kept beside a task store's, in its database, written in the store's own transactions.

The mechanism (for the service's tables here, and for any other component of tasklife that
keeps rows of its own beside the tasks, such as the webhook sender's deliveries):

- ``Tables(component, migrations)`` declares a component's tables: those its migrations create
  (``CREATE TABLE {<component>_<n>}``, ``CREATE INDEX {...}``). Each table
  ``<component>_<n>`` is named like the store's own (``Sql.table``): on SQLite with the
  store's prefix (``tasklife_service_tasks``), on PostgreSQL in the store's schema
  (``"tasklife"."service_tasks"``); each index likewise (``Sql.index``: unqualified on
  PostgreSQL, where an index lives with its table). ``migrations`` holds, per engine
  (``"sqlite"``, ``"postgresql"``), the numbered scripts, in which ``{<component>_<n>}`` names a
  table or index of the component and ``{tasks}``, ``{records}``, ... the store's (a foreign key
  to ``{tasks}`` is how a row follows its task).
- ``tables.sql(store.sql)`` is a ``tasklife.store.plan.Sql`` for the component's statements: the
  store's engine, placeholder and names plus the component's, and the component's own
  migrations table (``<component>_migrations``), so its migrations are numbered apart from the
  store's and from every other component's.
- ``tables.migrate(tx, sql, clock)`` applies the missing migrations inside a transaction of the
  store (``store.transaction()``): on SQLite under the write lock, on PostgreSQL under the
  store's advisory migration lock, so replicas starting together migrate once.
- The component's statements are ``tasklife.store.plan``-style flows (generators yielding
  ``Statement``s built with ``sql.text(template)``), run with ``tx.run_flow(flow)`` in the same
  transaction as the store's own operations (``tx.load``, ``tx.save``, ``transact(tx, ...)``),
  so a task and the component's rows commit or roll back together; written once, the flows run
  on the sync and the async transactions alike.

The service's own table, ``service_tasks``: one row per task of the local server, holding what
the domain's ``Task`` does not (the owner's key fingerprint, the task's text, the model, the
metadata, ``max_agent_steps``, the simulated output, when it finished) and ``due_at``: when the
task's next simulated step is due, in microseconds since the epoch, set exactly while the task
is running (see ``tasklife.service.tasks``). ``seq`` orders an owner's tasks by creation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Final, Literal, Protocol, cast

import attrs

from tasklife.errors import InvalidArgument, InvalidTaskData
from tasklife.lifecycle import TaskStatus
from tasklife.store import StoreCorruption
from tasklife.store.drivers import SQLTransaction
from tasklife.store.plan import Flow, Sql, Statement, migrate
from tasklife.task import Clock
from tasklife.v1 import TaskSummary

__all__ = [
    "SERVICE",
    "SQLStore",
    "ServiceRow",
    "Tables",
    "claim_due",
    "count_owned",
    "insert_row",
    "lock_rows",
    "micros",
    "page_owned",
    "row_of",
    "status_of",
    "update_row",
]

Engine = Literal["sqlite", "postgresql"]


class SQLStore(Protocol):
    """A store whose transactions run plan flows: ``SQLiteTaskStore``, ``PostgresTaskStore``."""

    @property
    def sql(self) -> Sql:
        """The store's statements and table names."""

    def transaction(self) -> AbstractContextManager[SQLTransaction]:
        """A transaction of the store's own."""

    def close(self) -> None:
        """Release the store's connections."""


_CREATES: Final = re.compile(r"CREATE (?:UNIQUE )?(TABLE|INDEX) \{(\w+)\}")


@attrs.frozen
class Tables:
    """A component's tables beside a store's, and their numbered migrations (see the module).

    The tables and indexes are the ones the migrations create: each is named once, in its
    ``CREATE TABLE {<component>_<n>}`` or ``CREATE INDEX {...}``. Every engine's migrations
    must create the same names, all starting with ``<component>_``; ``InvalidArgument`` if not.
    """

    component: str
    migrations: Mapping[Engine, tuple[tuple[str, ...], ...]]
    created: Mapping[str, Literal["TABLE", "INDEX"]] = attrs.field(init=False)

    @created.default
    def _created(self) -> dict[str, Literal["TABLE", "INDEX"]]:
        found = {
            engine: {
                name: cast(Literal["TABLE", "INDEX"], kind)
                for script in scripts
                for statement in script
                for kind, name in _CREATES.findall(statement)
            }
            for engine, scripts in self.migrations.items()
        }
        names = next(iter(found.values()), {})
        if any(other != names for other in found.values()):
            raise InvalidArgument("migrations", "each engine must create the same tables")
        if any(not name.startswith(self.component + "_") for name in names):
            raise InvalidArgument("migrations", f"names must start with {self.component}_")
        return names

    def sql(self, store: Sql) -> Sql:
        """The statements of this component over the store ``store``'s database."""
        own = {
            name: store.table(name) if kind == "TABLE" else store.index(name)
            for name, kind in self.created.items()
        }
        own["migrations"] = store.table(f"{self.component}_migrations")
        return attrs.evolve(
            store, tables=store.tables | own, migrations=self.migrations[store.engine]
        )

    def migrate(self, tx: SQLTransaction, sql: Sql, clock: Clock) -> int:
        """Apply the missing migrations in ``tx``; the newest migration's number."""
        return tx.run_flow(migrate(sql, clock))


_SQLITE: Final = (
    (
        "CREATE TABLE {service_tasks} (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
        "id TEXT NOT NULL UNIQUE REFERENCES {tasks} (id) ON DELETE CASCADE, "
        "owner TEXT NOT NULL, text TEXT NOT NULL, llm_model TEXT NOT NULL, "
        "max_agent_steps INTEGER NOT NULL, metadata TEXT NOT NULL, output TEXT, "
        "finished_at TEXT, due_at INTEGER)",
        "CREATE INDEX {service_by_owner} ON {service_tasks} (owner, seq)",
        "CREATE INDEX {service_by_due} ON {service_tasks} (due_at) WHERE due_at IS NOT NULL",
    ),
)
_POSTGRESQL: Final = (
    (
        "CREATE TABLE {service_tasks} (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
        "id text NOT NULL UNIQUE REFERENCES {tasks} (id) ON DELETE CASCADE, "
        "owner text NOT NULL, text text NOT NULL, llm_model text NOT NULL, "
        "max_agent_steps integer NOT NULL, metadata text NOT NULL, output text, "
        "finished_at text, due_at bigint)",
        "CREATE INDEX {service_by_owner} ON {service_tasks} (owner, seq)",
        "CREATE INDEX {service_by_due} ON {service_tasks} (due_at) WHERE due_at IS NOT NULL",
    ),
)

SERVICE: Final = Tables("service", {"sqlite": _SQLITE, "postgresql": _POSTGRESQL})
"""The service's tables (see the module)."""


@attrs.define
class ServiceRow:
    """A task's row in ``service_tasks``: what the server keeps beside the domain's ``Task``."""

    id: str
    owner: str
    text: str
    llm_model: str
    max_agent_steps: int
    metadata: dict[str, str]
    output: str | None = None
    finished_at: datetime | None = None
    due_at: int | None = None


def micros(at: datetime) -> int:
    """``at`` in whole microseconds since the epoch (how ``due_at`` is stored)."""
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


_COLUMNS: Final = (
    "id, owner, text, llm_model, max_agent_steps, metadata, output, finished_at, due_at"
)
_ROW: Final = (
    "SELECT s.id, s.owner, s.text, s.llm_model, s.max_agent_steps, s.metadata, s.output, "
    "s.finished_at, s.due_at, t.token FROM {service_tasks} s JOIN {tasks} t ON t.id = s.id "
    "WHERE s.id = %s"
)
_INSERT: Final = (
    f"INSERT INTO {{service_tasks}} ({_COLUMNS}) "  # noqa: S608 - constants
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
_UPDATE: Final = (
    "UPDATE {service_tasks} SET output = %s, finished_at = %s, due_at = %s WHERE id = %s"
)
_STATUS: Final = (
    "SELECT s.owner, t.status FROM {service_tasks} s JOIN {tasks} t ON t.id = s.id WHERE s.id = %s"
)
_COUNT: Final = "SELECT count(*) FROM {service_tasks} WHERE owner = %s"
_PAGE: Final = (
    "SELECT s.id, t.status, s.text, s.output, t.head, s.finished_at "
    "FROM {service_tasks} s JOIN {tasks} t ON t.id = s.id "
    "WHERE s.owner = %s ORDER BY s.seq DESC LIMIT %s OFFSET %s"
)
_DUE: Final = (
    "SELECT id FROM {service_tasks} WHERE due_at IS NOT NULL AND due_at <= %s "
    "ORDER BY due_at, seq LIMIT %s"
)


def row_of(sql: Sql, task_id: str, *, lock: bool) -> Flow[tuple[ServiceRow, int] | None]:
    """The service row of ``task_id`` and the task's token (None: no such task), the rows
    locked for this transaction if ``lock``."""
    found = yield Statement(sql.text(_ROW) + (sql.lock if lock else ""), (task_id,))
    if not found.rows:
        return None
    *row, token = found.rows[0]
    return _row(tuple(row)), int(token)


def lock_rows(sql: Sql, ids: list[str]) -> Flow[None]:
    """Lock the service rows of ``ids`` for this transaction, in the order given (nothing to
    do where writers are serialised)."""
    if not sql.lock or not ids:
        return
    marks = ", ".join(["%s"] * len(ids))
    yield Statement(
        sql.text(f"SELECT id FROM {{service_tasks}} WHERE id IN ({marks}) ORDER BY id")  # noqa: S608 - placeholders
        + sql.lock,
        tuple(ids),
    )


def insert_row(sql: Sql, row: ServiceRow) -> Flow[None]:
    """Insert the service row of a task just added to the store."""
    yield Statement(
        sql.text(_INSERT),
        (row.id, row.owner, row.text, row.llm_model, row.max_agent_steps,
         json.dumps(row.metadata), row.output, _iso(row.finished_at), row.due_at),
    )  # fmt: skip


def update_row(sql: Sql, row: ServiceRow) -> Flow[None]:
    """Write what a change can move in a service row: the output, the end, the due time."""
    yield Statement(sql.text(_UPDATE), (row.output, _iso(row.finished_at), row.due_at, row.id))


def status_of(sql: Sql, task_id: str) -> Flow[tuple[str, TaskStatus] | None]:
    """The owner and status of ``task_id`` (None: no such task)."""
    found = yield Statement(sql.text(_STATUS), (task_id,))
    if not found.rows:
        return None
    owner, status = found.rows[0]
    return owner, _status(task_id, status)


def count_owned(sql: Sql, owner: str) -> Flow[int]:
    """How many tasks ``owner`` has."""
    found = yield Statement(sql.text(_COUNT), (owner,))
    return int(found.rows[0][0])


def page_owned(sql: Sql, owner: str, limit: int, offset: int) -> Flow[list[TaskSummary]]:
    """``limit`` of ``owner``'s tasks from ``offset``, newest first, as v1 summaries."""
    found = yield Statement(sql.text(_PAGE), (owner, limit, offset))
    return [_summary(row) for row in found.rows]


def claim_due(sql: Sql, now: int, limit: int) -> Flow[list[str]]:
    """The ids of up to ``limit`` tasks whose step is due at ``now``, oldest due first.

    Their rows are locked for this transaction; rows another transaction holds are skipped
    (PostgreSQL ``FOR UPDATE SKIP LOCKED``; on SQLite the write lock already excludes others).
    """
    skip = f"{sql.lock} SKIP LOCKED" if sql.lock else ""
    found = yield Statement(sql.text(_DUE) + skip, (now, limit))
    return [row[0] for row in found.rows]


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat()


def _time(task_id: str, value: object) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise StoreCorruption(task_id, f"{value!r} is not a time") from None


def _status(task_id: str, value: object) -> TaskStatus:
    try:
        return TaskStatus(str(value))
    except ValueError:
        raise StoreCorruption(task_id, f"status: {value!r} is not a status") from None


def _row(row: tuple[Any, ...]) -> ServiceRow:
    task_id, owner, text, model, max_steps, metadata, output, finished_at, due_at = row
    try:
        pairs = json.loads(metadata)
        return ServiceRow(
            task_id, owner, text, model, int(max_steps), dict(pairs), output,
            _time(task_id, finished_at), None if due_at is None else int(due_at),
        )  # fmt: skip
    except (TypeError, ValueError) as error:
        raise StoreCorruption(str(task_id), f"service row: {error}") from None


def _summary(row: tuple[Any, ...]) -> TaskSummary:
    task_id, status, text, output, head, finished_at = row
    try:
        data = json.loads(head) if isinstance(head, str | bytes) else head
        created = _time(task_id, data["created_at"])
    except (TypeError, ValueError, KeyError, InvalidTaskData) as error:
        raise StoreCorruption(str(task_id), f"head: {error}") from None
    return TaskSummary(
        id=task_id,
        status=_status(task_id, status),
        task=text,
        output=output,
        created_at=created,
        finished_at=_time(task_id, finished_at),
    )
