"""The webhook delivery table and its flows: a queue of events in the store's own database.

One row per event to send, written in the same transaction as the feed cursor's move (see
``tasklife.service.sender``), so an event is queued exactly when its change is consumed. A
row is *pending* until a POST of it is answered 2xx (then it is deleted) or its attempts run
out (then it is a *dead letter*: kept, listed, replayable).

Claims. A deliverer claims a due row by setting ``lease_until`` (and bumping ``claim``) in a
short transaction, posts it outside any transaction, then settles it in another one, matching
``claim``: a deliverer whose lease ran out (it was killed, or stalled) settles nothing, and
its row is claimed again by another once the lease has passed. Only the oldest pending row of
a task can be claimed, so a task's events go out in feed order, one at a time. On PostgreSQL
the claim's select is ``FOR UPDATE SKIP LOCKED`` (concurrent claimers skip each other's rows);
on SQLite the store's transaction holds the write lock, so claims are serialised.

The flows are ``tasklife.store.plan`` flows (sans-I/O generators), run by
``SQLTransaction.run_flow`` inside the store's transactions; the table and its numbered
migrations are declared with ``tasklife.service.tables.Tables`` (component ``webhook``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, Protocol, TypeVar

import attrs

from tasklife.errors import InvalidArgument, positive_int
from tasklife.service.tables import SQLStore, Tables
from tasklife.store import plan
from tasklife.store.plan import Flow, Sql, Statement
from tasklife.task import Clock, utc_now

__all__ = [
    "DEFAULT_DELAYS",
    "WEBHOOK",
    "Claimed",
    "DeadLetter",
    "Deliveries",
    "DeliveryStore",
    "Event",
    "Idle",
    "claim",
    "dead_letters",
    "delivered",
    "deliveries_sql",
    "enqueue",
    "failed",
    "next_due",
    "pending",
    "replay",
    "settle",
]

DEFAULT_DELAYS: Final = (1.0, 2.0, 4.0, 8.0, 16.0)
"""Seconds between a failed attempt and the next: 5 retries after the first attempt."""

_SQLITE: Final = (
    (
        "CREATE TABLE {webhook_deliveries} (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "task_id TEXT NOT NULL, status TEXT NOT NULL, event_at TEXT NOT NULL, "
        "body TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL, "
        "due_at TEXT NOT NULL, lease_until TEXT, claim INTEGER NOT NULL, last_error TEXT, "
        "created_at TEXT NOT NULL, dead_at TEXT)",
        "CREATE INDEX {webhook_deliveries_due} ON {webhook_deliveries} (state, due_at)",
        "CREATE INDEX {webhook_deliveries_task} ON {webhook_deliveries} (task_id, state, id)",
    ),
)
_POSTGRESQL: Final = (
    (
        "CREATE TABLE {webhook_deliveries} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
        "task_id text NOT NULL, status text NOT NULL, event_at timestamptz NOT NULL, "
        "body text NOT NULL, state text NOT NULL, attempts integer NOT NULL, "
        "due_at timestamptz NOT NULL, lease_until timestamptz, claim bigint NOT NULL, "
        "last_error text, created_at timestamptz NOT NULL, dead_at timestamptz)",
        "CREATE INDEX {webhook_deliveries_due} ON {webhook_deliveries} (state, due_at)",
        "CREATE INDEX {webhook_deliveries_task} ON {webhook_deliveries} (task_id, state, id)",
    ),
)

WEBHOOK: Final = Tables("webhook", {"sqlite": _SQLITE, "postgresql": _POSTGRESQL})
"""The delivery queue's table, ``webhook_deliveries``, beside the store's (see
``tasklife.service.tables``)."""

_INSERT: Final = (
    "INSERT INTO {webhook_deliveries} (task_id, status, event_at, body, state, attempts, due_at, "
    "claim, created_at) VALUES "
)
# The oldest pending row of each task is the only one that may go; of those, the one due first.
_DUE: Final = (
    "SELECT d.id, d.task_id, d.body, d.attempts, d.claim FROM {webhook_deliveries} d "
    "WHERE d.state = 'pending' AND d.due_at <= %s "
    "AND (d.lease_until IS NULL OR d.lease_until <= %s) "
    "AND NOT EXISTS (SELECT 1 FROM {webhook_deliveries} e WHERE e.task_id = d.task_id "
    "AND e.state = 'pending' AND e.id < d.id) "
    "ORDER BY d.due_at, d.id LIMIT %s"
)
_LEASE: Final = "UPDATE {webhook_deliveries} SET lease_until = %s, claim = claim + 1 WHERE id IN "
_RELEASE: Final = "UPDATE {webhook_deliveries} SET lease_until = NULL WHERE id = %s AND claim = %s"
_HELD: Final = "SELECT id, claim FROM {webhook_deliveries} WHERE id IN "
_DROP: Final = "DELETE FROM {webhook_deliveries} WHERE id IN "
_DELIVERED: Final = "DELETE FROM {webhook_deliveries} WHERE id = %s AND claim = %s"
_RETRY: Final = (
    "UPDATE {webhook_deliveries} SET attempts = %s, due_at = %s, lease_until = NULL, "
    "last_error = %s WHERE id = %s AND claim = %s"
)
_DEAD: Final = (
    "UPDATE {webhook_deliveries} SET state = 'dead', attempts = %s, lease_until = NULL, "
    "last_error = %s, dead_at = %s WHERE id = %s AND claim = %s"
)
_NEXT_DUE: Final = (
    "SELECT min(due_at) FROM {webhook_deliveries} WHERE state = 'pending' AND lease_until IS NULL"
)
_PENDING: Final = "SELECT count(*) FROM {webhook_deliveries} WHERE state = 'pending'"
_DEAD_LETTERS: Final = (
    "SELECT id, task_id, status, event_at, body, attempts, last_error, dead_at "
    "FROM {webhook_deliveries} WHERE state = 'dead' AND id > %s ORDER BY id LIMIT %s"
)
_REPLAY: Final = (
    "UPDATE {webhook_deliveries} SET state = 'pending', attempts = 0, due_at = %s, "
    "lease_until = NULL, dead_at = NULL WHERE state = 'dead'"
)
_MAX_PROBLEM: Final = 200
R = TypeVar("R")
Settled = Literal["delivered", "retry", "dead", "lost"]


@attrs.frozen
class Event:
    """An event to queue: its task ('' for a ``test`` event), status, time and JSON body."""

    task_id: str
    status: str
    at: datetime
    body: str


@attrs.frozen
class Claimed:
    """A row this deliverer holds the lease of: send ``body``, then settle it with ``claim``."""

    id: int
    task_id: str
    body: str = attrs.field(repr=False)
    attempts: int
    """Attempts made before this one."""
    claim: int


@attrs.frozen
class Idle:
    """No row is due; ``next_due``: when the earliest unclaimed one is (None: there is none)."""

    next_due: datetime | None


@attrs.frozen
class DeadLetter:
    """An event whose every attempt failed: kept until replayed."""

    id: int
    task_id: str
    status: str
    at: datetime
    """The event's time (the transition's)."""
    body: str = attrs.field(repr=False)
    attempts: int
    last_error: str | None
    dead_at: datetime


def deliveries_sql(store: Sql) -> Sql:
    """The statements of the delivery queue beside the store whose statements are ``store``:
    the component's (``WEBHOOK``), claims skipping the rows other claimers hold on PostgreSQL."""
    sql = WEBHOOK.sql(store)
    return attrs.evolve(sql, lock=" FOR UPDATE SKIP LOCKED" if sql.engine == "postgresql" else "")


class DeliveryStore(SQLStore, Protocol):
    """What the queue needs of a store: ``SQLiteTaskStore`` and ``PostgresTaskStore`` are one."""

    def watch(self) -> Any:
        """A context manager yielding a ``Watch`` on the feed."""


class Deliveries:
    """The delivery queue beside ``store``'s tables (made or migrated when missing): what
    waits, the dead letters, and their replay. ``WebhookSender`` fills and empties it; an
    operator's tool needs only this."""

    def __init__(self, store: DeliveryStore, *, clock: Clock = utc_now) -> None:
        self.store = store
        self.sql = deliveries_sql(store.sql)
        self.clock = clock
        with store.transaction() as tx:
            WEBHOOK.migrate(tx, self.sql, clock)

    def run(self, flow: Flow[R]) -> R:
        """Run ``flow`` in a transaction of the store's own."""
        with self.store.transaction() as tx:
            result: R = tx.run_flow(flow)
            return result

    def pending(self) -> int:
        """How many events wait to be delivered (dead letters aside)."""
        return self.run(pending(self.sql))

    def dead_letters(self, *, after: int = 0, limit: int = 100) -> list[DeadLetter]:
        """Up to ``limit`` dead letters with ids above ``after``, oldest first."""
        return self.run(dead_letters(self.sql, after, limit))

    def replay(self, ids: Iterable[int] | None = None) -> int:
        """Queue dead letters again (all when ``ids`` is None), due now, with fresh attempts;
        how many. Each is signed afresh when sent; its body (and so its digest) is unchanged."""
        return self.run(replay(self.sql, ids, self.clock()))


# Flows ----------------------------------------------------------------------------------------


def enqueue(sql: Sql, events: Sequence[Event], now: datetime) -> Flow[int]:
    """Queue ``events`` (in order), each due at ``now``; how many."""
    at = _stamp(now)
    for start in range(0, len(events), 100):
        chunk = events[start : start + 100]
        values = ", ".join(["(%s, %s, %s, %s, 'pending', 0, %s, 0, %s)"] * len(chunk))
        params = tuple(
            v for e in chunk for v in (e.task_id, e.status, _stamp(e.at), e.body, at, at)
        )
        yield Statement(sql.text(_INSERT + values), params)
    return len(events)


def claim(sql: Sql, now: datetime, lease: timedelta, limit: int = 1) -> Flow[list[Claimed] | Idle]:
    """Lease up to ``limit`` due rows, each the oldest pending row of its task (so no two of
    one task), due first first; ``Idle`` (saying when the next unclaimed row is due) when
    none is due."""
    stamp = _stamp(now)
    found = yield Statement(sql.text(_DUE) + sql.lock, (stamp, stamp, limit))
    if not found.rows:
        return Idle((yield from next_due(sql)))
    ids = [row[0] for row in found.rows]
    marks = "(" + ", ".join(["%s"] * len(ids)) + ")"
    yield Statement(sql.text(_LEASE + marks), (_stamp(now + lease), *ids))
    return [
        Claimed(int(row_id), str(task_id), str(body), int(attempts), int(held) + 1)
        for row_id, task_id, body, attempts, held in found.rows
    ]


def settle(
    sql: Sql,
    posted: Sequence[tuple[Claimed, str | None]],
    unsent: Sequence[Claimed],
    now: datetime,
    delays: Sequence[float],
) -> Flow[list[tuple[Settled, datetime | None]]]:
    """Record what each posted row's attempt did (``problem`` None: answered 2xx) and release
    the ``unsent`` ones; for each posted row, what became of it (see ``delivered``/``failed``)."""
    done = [claimed for claimed, problem in posted if problem is None]
    lost = yield from _drop(sql, done)
    out: list[tuple[Settled, datetime | None]] = []
    for claimed, problem in posted:
        if problem is None:
            out.append(("lost" if claimed.id in lost else "delivered", None))
        else:
            out.append((yield from failed(sql, claimed, problem, now, delays)))
    for claimed in unsent:
        yield Statement(sql.text(_RELEASE), (claimed.id, claimed.claim))
    return out


def _drop(sql: Sql, done: Sequence[Claimed]) -> Flow[set[int]]:
    """Drop delivered rows still held under their claim, in two statements whatever their
    number; the ids of the others (their lease was lost meanwhile: left as they are)."""
    if not done:
        return set()
    marks = "(" + ", ".join(["%s"] * len(done)) + ")"
    # Wait for row locks here, never skip: a claimer briefly locks rows it then finds leased
    # (its snapshot predates the lease), and a skipped row would stay leased, undelivered.
    lock = " FOR UPDATE" if sql.engine == "postgresql" else ""
    held = yield Statement(sql.text(_HELD + marks) + lock, tuple(c.id for c in done))
    claims = {(int(row_id), int(claim)) for row_id, claim in held.rows}
    ours = [c.id for c in done if (c.id, c.claim) in claims]
    if ours:
        marks = "(" + ", ".join(["%s"] * len(ours)) + ")"
        yield Statement(sql.text(_DROP + marks), tuple(ours))
    return {c.id for c in done} - set(ours)


def delivered(sql: Sql, claimed: Claimed) -> Flow[bool]:
    """Drop a delivered row; False when the lease was lost meanwhile (nothing changes)."""
    done = yield Statement(sql.text(_DELIVERED), (claimed.id, claimed.claim))
    return done.rowcount == 1


def failed(
    sql: Sql, claimed: Claimed, problem: str, now: datetime, delays: Sequence[float]
) -> Flow[tuple[Settled, datetime | None]]:
    """Record a failed attempt: ``("retry", when)``, ``("dead", None)`` for a dead letter, or
    ``("lost", None)`` when the lease was lost meanwhile (nothing changes)."""
    attempts = claimed.attempts + 1
    problem = problem[:_MAX_PROBLEM]
    if attempts > len(delays):
        moved = yield Statement(
            sql.text(_DEAD), (attempts, problem, _stamp(now), claimed.id, claimed.claim)
        )
        return ("dead" if moved.rowcount == 1 else "lost"), None
    due = now + timedelta(seconds=delays[attempts - 1])
    moved = yield Statement(
        sql.text(_RETRY), (attempts, _stamp(due), problem, claimed.id, claimed.claim)
    )
    return ("retry", due) if moved.rowcount == 1 else ("lost", None)


def next_due(sql: Sql) -> Flow[datetime | None]:
    """When the earliest unclaimed pending row is due (None: there is none)."""
    found = yield Statement(sql.text(_NEXT_DUE))
    value = found.rows[0][0] if found.rows else None
    return None if value is None else _time(value)


def pending(sql: Sql) -> Flow[int]:
    """How many events wait to be delivered (claimed ones included)."""
    found = yield Statement(sql.text(_PENDING))
    return int(found.rows[0][0])


def dead_letters(sql: Sql, after: int, limit: int) -> Flow[list[DeadLetter]]:
    """Up to ``limit`` dead letters with ids above ``after``, oldest first."""
    positive_int("limit", limit, most=plan.MAX_LIMIT)
    positive_int("after", after, zero=True)
    found = yield Statement(sql.text(_DEAD_LETTERS), (after, limit))
    return [
        DeadLetter(int(i), str(t), str(s), _time(at), str(b), int(n), e, _time(dead))
        for i, t, s, at, b, n, e, dead in found.rows
    ]


def replay(sql: Sql, ids: Iterable[int] | None, now: datetime) -> Flow[int]:
    """Make dead letters pending again, due at ``now`` with fresh attempts (all when ``ids``
    is None); how many."""
    text = sql.text(_REPLAY)
    if ids is None:
        done = yield Statement(text, (_stamp(now),))
        return done.rowcount
    chosen = list(ids)
    if not all(type(i) is int for i in chosen):
        raise InvalidArgument("ids", "must be dead letter ids (integers)")
    count = 0
    for start in range(0, len(chosen), 100):
        chunk = chosen[start : start + 100]
        marks = ", ".join(["%s"] * len(chunk))
        done = yield Statement(text + sql.text(f" AND id IN ({marks})"), (_stamp(now), *chunk))
        count += done.rowcount
    return count


def _stamp(at: datetime) -> str:
    """A time as the table keeps it: ISO 8601 UTC to the microsecond (text sorts in time)."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _time(value: Any) -> datetime:
    """A time column's value: text on SQLite, a datetime from psycopg."""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return at.astimezone(UTC)
