"""``WebhookSender``: the change feed, delivered at least once as signed Browser Use webhooks.

Two steps, each in its own thread when started (never on a request's path):

- **consume**: in one store transaction, read the feed past the named cursor (``consume``,
  ``"webhooks"`` by default), queue one delivery row per ``record`` or ``replaced`` change
  (an ``agent.task.status_update`` envelope: the status the change reached, at the time it was
  reached, with the task's metadata) and move the cursor. The event of every committed change
  is queued once, on whichever replica consumes it, even across a crash (the rows and the
  cursor commit together).
- **deliver**: claim the row due first among each task's oldest pending one (a lease, see
  ``tasklife.service.deliveries``), ``POST`` it signed afresh with the current time, and drop
  it when answered 2xx; otherwise retry it after each of ``delays`` (1, 2, 4, 8 and 16 s by
  default), then keep it as a dead letter (``dead_letters()``, ``replay()``).

So each event is delivered at least once (a receiver that answered 2xx but whose answer was
lost gets it again), a task's events in order, each by one replica at a time. The POST
follows no redirect (a 3xx is a failed attempt), gives up after ``timeout`` seconds, and
reads at most ``MAX_ANSWER_BYTES`` of the answer. ``http://`` is refused unless the host is
loopback or ``allow_http`` is given. The secret is in no log line, repr or message; the URL is
shown as its origin (scheme, host and port) only, since webhook paths often hold tokens.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Final, Literal, TypeVar
from urllib.parse import urlsplit

import attrs

try:
    import httpx
except ImportError as error:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "tasklife's webhook sender needs httpx: pip install 'tasklife[http]'"
    ) from error

from tasklife.errors import InvalidArgument, positive_int, seconds
from tasklife.service import deliveries
from tasklife.service.deliveries import (
    DEFAULT_DELAYS,
    Claimed,
    DeadLetter,
    Deliveries,
    DeliveryStore,
    Event,
    Idle,
)
from tasklife.service.tables import SERVICE, row_of
from tasklife.store.drivers import SQLTransaction
from tasklife.store.plan import Flow, Sql
from tasklife.store.port import Change
from tasklife.task import Clock, utc_now
from tasklife.v1.wire import is_loopback_host
from tasklife.webhooks import sign, status_update_envelope, webhook_test_envelope

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_ANSWER_BYTES",
    "Attempt",
    "MetadataOf",
    "WebhookSender",
    "checked_secret",
    "service_metadata",
]

log = logging.getLogger("tasklife.webhooks")

DEFAULT_TIMEOUT: Final = 10.0
"""Seconds one delivery attempt may take, from connecting to the last byte read."""
MAX_ANSWER_BYTES: Final = 4096
"""The most of a receiver's answer the sender reads (a receiver need only answer 2xx)."""
DEFAULT_CURSOR: Final = "webhooks"
_BATCH: Final = 100
_IDLE: Final = 0.5  # seconds an idle loop waits before looking again (other replicas' rows)
_EAGER: Final = 0.01  # seconds between looks for a change a wake-up announced
_EAGER_TRIES: Final = 20
_USER_AGENT: Final = "tasklife-webhooks"
R = TypeVar("R")

MetadataOf = Callable[[SQLTransaction, str], Mapping[str, Any] | None]
"""The metadata of a task, read in the consuming transaction (None: no metadata)."""


@attrs.frozen
class Attempt:
    """What one delivery attempt did.

    ``outcome``: ``delivered`` (answered 2xx), ``retry`` (failed; tried again at
    ``next_at``), ``dead`` (failed for the last time: a dead letter), or ``lost`` (this
    sender's lease ran out meanwhile and another took the event over: nothing recorded).
    """

    delivery_id: int
    task_id: str
    attempt: int
    outcome: Literal["delivered", "retry", "dead", "lost"]
    status_code: int | None
    problem: str | None
    next_at: datetime | None = None


def service_metadata(store: Sql) -> MetadataOf:
    """The ``metadata`` hook of the local server: a task's metadata from its service row
    (``tasklife.service.tables``), read in the consuming transaction."""
    sql = SERVICE.sql(store)

    def metadata(tx: SQLTransaction, task_id: str) -> Mapping[str, Any] | None:
        found = tx.run_flow(row_of(sql, task_id, lock=False))
        return None if found is None else found[0].metadata

    return metadata


def checked_secret(secret: object) -> str:
    """``secret`` if it can sign webhooks, else ``InvalidArgument`` (which never shows it).

    Refused: a non-string, an empty or blank one, and one with whitespace around it (almost
    always a copy-paste slip, and a receiver configured without it would refuse every event).
    """
    if not isinstance(secret, str):
        raise InvalidArgument("secret", f"must be a string, not {type(secret).__name__}")
    if not secret.strip():
        raise InvalidArgument("secret", "is empty")
    if secret != secret.strip():
        raise InvalidArgument("secret", "has whitespace around it: remove it")
    try:
        secret.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgument("secret", "is not encodable as UTF-8") from None
    return secret


def _checked_url(url: object, allow_http: bool) -> tuple[str, str]:
    """The URL and its origin (what messages show), or ``InvalidArgument``."""
    if not isinstance(url, str):
        raise InvalidArgument("url", "must be a string")
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise InvalidArgument("url", "is not a URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidArgument("url", "must be an http:// or https:// URL with a host")
    origin = f"{parts.scheme}://{host if ':' not in host else f'[{host}]'}"
    origin += "" if port is None else f":{port}"
    if parts.scheme == "http" and not allow_http and not is_loopback_host(host):
        raise InvalidArgument(
            "url",
            f"{origin} is plain http:// off this machine: the events would travel unencrypted; "
            "use https://, or allow http explicitly",
        )
    return url, origin


def _checked_delays(delays: object) -> tuple[float, ...]:
    if not isinstance(delays, Sequence) or isinstance(delays, str):
        raise InvalidArgument("delays", "must be a sequence of seconds")
    return tuple(seconds("delays", d, zero=True) for d in delays)


class WebhookSender:
    """Delivers the change feed of ``store`` to ``url`` as signed webhooks, at least once.

    ``failed_as``: a failed task is sent as ``stopped`` (the v1 vocabulary, which the official
    SDK's verifier requires) or as ``failed``. ``delays``: seconds before each retry (their
    number is the number of retries). ``timeout``: seconds an attempt may take. ``lease``:
    how long a claim holds before another sender may take the event over (default: three
    timeouts, at least 30 s). ``metadata(tx, task_id)``: the task's metadata, read in the
    consuming transaction. ``clock``: the time used for due times, leases, and signatures.
    ``workers``: how many events are posted at once (each of a different task); ``batch``:
    how many events a deliverer claims (and settles) in one transaction, then posts one after
    the other.

    ``consume()`` and ``deliver()`` do one step each, in the caller's thread; ``start()`` runs
    both in background threads until ``stop()`` (or the end of a ``with`` block).
    """

    def __init__(
        self,
        store: DeliveryStore,
        url: str,
        secret: str,
        *,
        failed_as: Literal["stopped", "failed"] = "stopped",
        delays: Sequence[float] = DEFAULT_DELAYS,
        timeout: float = DEFAULT_TIMEOUT,
        lease: float | None = None,
        allow_http: bool = False,
        cursor: str = DEFAULT_CURSOR,
        workers: int = 4,
        batch: int = 8,
        metadata: MetadataOf | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._url, self._origin = _checked_url(url, allow_http)
        self._secret = checked_secret(secret)
        if failed_as not in ("stopped", "failed"):
            raise InvalidArgument("failed_as", "must be 'stopped' or 'failed'")
        self._workers = positive_int("workers", workers)
        self._batch = positive_int("batch", batch, most=100)
        self._failed_as: Literal["stopped", "failed"] = failed_as
        self._delays = _checked_delays(delays)
        self._timeout = seconds("timeout", timeout)
        self._lease = timedelta(
            seconds=max(30.0, 3 * self._timeout) if lease is None else seconds("lease", lease)
        )
        self._cursor = cursor
        self._metadata = metadata
        self._clock = clock
        self._store = store
        self.deliveries = Deliveries(store, clock=clock)
        self._sql = self.deliveries.sql
        self._client: httpx.Client = httpx.Client(
            timeout=self._timeout,
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_connections=workers, max_keepalive_connections=workers),
            headers={"User-Agent": _USER_AGENT, "Content-Type": "application/json"},
        )
        self._stop = threading.Event()
        self._queued = threading.Condition()
        self._generation = 0
        self._threads: list[threading.Thread] = []

    def __repr__(self) -> str:
        return f"WebhookSender(url={self._origin!r}, cursor={self._cursor!r})"

    # One step at a time -----------------------------------------------------------------

    def consume(self, limit: int = _BATCH) -> int:
        """Queue the events of the feed's next changes and move the cursor past them, in one
        transaction; how many changes were read (0: none is left)."""
        with self._store.transaction() as tx:
            changes = tx.consume(self._cursor, limit)
            events = [e for c in changes if (e := self._event(tx, c)) is not None]
            if events:
                tx.run_flow(deliveries.enqueue(self._sql, events, self._clock()))
        if events:
            self._wake(len(events))
        return len(changes)

    def send_test(self) -> None:
        """Queue a ``test`` event (delivered like any other: retried, then a dead letter)."""
        at = self._clock()
        body = _json(webhook_test_envelope(at=at))
        self._run(deliveries.enqueue(self._sql, [Event("", "test", at, body)], at))
        self._wake(1)

    def deliver(self) -> list[Attempt]:
        """Claim up to ``batch`` due events (each the oldest pending one of its task), post
        them one after the other, and record the outcomes in one transaction; what each
        attempt did (empty: none is due)."""
        step = self._step()
        return [] if isinstance(step, Idle) else step

    def _step(self) -> list[Attempt] | Idle:
        claimed = self._run(deliveries.claim(self._sql, self._clock(), self._lease, self._batch))
        if isinstance(claimed, Idle):
            return claimed
        began = time.monotonic()
        budget = self._lease.total_seconds() - self._timeout  # the last post ends in the lease
        posted: list[tuple[Claimed, int | None, str | None]] = []
        for row in claimed:
            if posted and time.monotonic() - began > budget:
                break
            posted.append((row, *self._post(row)))
        now = self._clock()
        settled = self._run(
            deliveries.settle(
                self._sql, [(row, problem) for row, _, problem in posted],
                claimed[len(posted) :], now, self._delays,
            )
        )  # fmt: skip
        return [
            self._attempt(row, (code, problem), outcome, now)
            for (row, code, problem), outcome in zip(posted, settled, strict=True)
        ]

    def _attempt(
        self,
        row: Claimed,
        answer: tuple[int | None, str | None],
        settled: tuple[deliveries.Settled, datetime | None],
        now: datetime,
    ) -> Attempt:
        """The attempt's record, logged when it failed (the origin only, never the secret)."""
        (code, problem), (outcome, due) = answer, settled
        number = row.attempts + 1
        if outcome == "dead":
            log.error(
                "webhook to %s: event %d (task %r) is a dead letter after %d attempts: %s",
                self._origin, row.id, row.task_id, number, problem,
            )  # fmt: skip
        elif outcome == "retry" and due is not None:
            log.warning(
                "webhook to %s: event %d (task %r) attempt %d failed: %s; retrying in %.3gs",
                self._origin, row.id, row.task_id, number, problem,
                (due - now).total_seconds(),
            )  # fmt: skip
        elif outcome == "lost":
            log.warning(
                "webhook to %s: event %d (task %r): the lease ran out before attempt %d was "
                "recorded; another sender took the event over",
                self._origin, row.id, row.task_id, number,
            )  # fmt: skip
        return Attempt(row.id, row.task_id, number, outcome, code, problem, due)

    def pending(self) -> int:
        """See ``Deliveries.pending``."""
        return self.deliveries.pending()

    def dead_letters(self, *, after: int = 0, limit: int = 100) -> list[DeadLetter]:
        """See ``Deliveries.dead_letters``."""
        return self.deliveries.dead_letters(after=after, limit=limit)

    def replay(self, ids: Iterable[int] | None = None) -> int:
        """See ``Deliveries.replay``; the sender's deliverers wake at once."""
        count = self.deliveries.replay(ids)
        if count:
            self._wake()
        return count

    # In the background ------------------------------------------------------------------

    def start(self) -> None:
        """Consume and deliver in background threads until ``stop()``."""
        if self._threads:
            raise InvalidArgument("start", "the sender is already started")
        self._stop.clear()
        self._threads = [threading.Thread(target=self._consuming, name="tasklife-webhooks-feed")]
        self._threads += [
            threading.Thread(target=self._delivering, name=f"tasklife-webhooks-{n}")
            for n in range(self._workers)
        ]
        for thread in self._threads:
            thread.daemon = True
            thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the threads (attempts in flight end first, within their timeout)."""
        self._stop.set()
        self._wake()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    def close(self) -> None:
        """Stop, and close the HTTP connections (idempotent)."""
        self.stop()
        self._client.close()

    def __enter__(self) -> WebhookSender:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _consuming(self) -> None:
        while not self._stop.is_set():
            try:
                with self._store.watch() as watch:
                    eager = 0
                    while not self._stop.is_set():
                        read = 0
                        while (count := self.consume()) and not self._stop.is_set():
                            read += count
                        # A wake-up whose change is not readable yet (the PostgreSQL feed shows
                        # a commit once older transactions end) is looked for again soon.
                        eager = eager - 1 if eager and not read else 0
                        if watch.wait(_EAGER if eager else _IDLE):
                            eager = _EAGER_TRIES
            except Exception:  # the database went away: the watch is opened again
                log.exception("webhooks: reading the change feed failed; trying again")
                self._stop.wait(_IDLE)

    def _delivering(self) -> None:
        while not self._stop.is_set():
            seen = self._generation
            try:
                step = self._step()
                if not isinstance(step, Idle):
                    continue
                due = step.next_due
                wait = _IDLE if due is None else (due - self._clock()).total_seconds()
                wait = min(_IDLE, max(0.0, wait))
            except Exception:
                log.exception("webhooks: a delivery step failed; trying again")
                wait = _IDLE
            with self._queued:
                if self._generation == seen and not self._stop.is_set():
                    self._queued.wait(wait)

    def _wake(self, events: int | None = None) -> None:
        """Wake as many idle deliverers as ``events`` need (each claims a batch), or all of
        them: on SQLite every claim takes the write lock, so idle ones are left asleep."""
        with self._queued:
            self._generation += 1
            if events is None:
                self._queued.notify_all()
            else:
                self._queued.notify(-(-events // self._batch))

    # Internals ---------------------------------------------------------------------------

    def _run(self, flow: Flow[R]) -> R:
        return self.deliveries.run(flow)

    def _event(self, tx: SQLTransaction, change: Change) -> Event | None:
        """The event of a feed change: a record's destination, or a replaced task's status."""
        data = change.data
        if change.kind == "record":
            status, at = data["dest"], data["at"]
        elif change.kind == "replaced":
            history = data.get("history") or []
            status = data["status"]
            at = history[-1]["at"] if history else data["created_at"]
        else:
            return None
        when = datetime.fromisoformat(at)
        metadata = None if self._metadata is None else self._metadata(tx, change.task_id)
        envelope = status_update_envelope(
            change.task_id, status, at=when, metadata=metadata, failed_as=self._failed_as
        )
        return Event(change.task_id, status, when, _json(envelope))

    def _post(self, claimed: Claimed) -> tuple[int | None, str | None]:
        """POST one event signed now: (status code, None) when answered 2xx, else the problem."""
        body = claimed.body.encode("utf-8")
        headers = sign(body, self._secret, timestamp=self._clock())
        deadline = time.monotonic() + self._timeout
        try:
            with self._client.stream("POST", self._url, content=body, headers=headers) as answer:
                read = 0
                for chunk in answer.iter_raw():
                    read += len(chunk)
                    if read >= MAX_ANSWER_BYTES or time.monotonic() > deadline:
                        break
                code = answer.status_code
        except httpx.TimeoutException as error:
            return None, f"no answer within {self._timeout:g}s ({type(error).__name__})"
        except httpx.HTTPError as error:
            return None, f"could not post ({type(error).__name__})"
        if 200 <= code < 300:
            return code, None
        if 300 <= code < 400:
            return code, f"answered {code}: redirects are not followed"
        return code, f"answered {code}"


def _json(envelope: Mapping[str, Any]) -> str:
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
