"""Sending webhooks: transition commit -> receiver latency, and events delivered per second.

A ``WebhookSender`` (default settings: 4 deliverers) runs in background threads over a store;
a receiver on 127.0.0.1 (``http.server``, keep-alive, answering 200 at once) stamps each
event's arrival. Writers commit transitions through ``transact`` (pause a running task, resume
a paused one). An event is matched to its commit by task id and event time.

- **latency**: one writer, one transition at a time, the next only after the last arrived:
  ``perf_counter`` at the receiver minus ``perf_counter`` when ``transact`` returned (the
  commit acknowledged to its writer). It spans the feed's wake-up (``LISTEN/NOTIFY`` on
  PostgreSQL; a 50 ms poll on SQLite), the consuming transaction, the claim, the signature,
  the POST and the settling transaction.
- **throughput**: 50 writer threads (50 concurrent clients), each on its own task, commit
  ``per_client`` transitions as fast as they can; events delivered per second = events /
  (last arrival - first commit started); with the latency of each event under that load.

Everything runs in one process (writers, sender, receiver share the GIL and the 2 cores); the
figures are a floor for a sender in its own process.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

import psycopg

from bench.report import Section, load_average, table
from bench.store import database, toggle
from tasklife import Task
from tasklife.service import WebhookSender
from tasklife.store import PostgresTaskStore, SQLiteTaskStore, transact

__all__ = ["run"]

SECRET = "whsec_bench_delivery_0123456789"  # noqa: S105 - a throwaway for the benchmark
CLIENTS = 50

Key = tuple[str, str]


class Arrivals:
    """What the receiver got: arrival times by (task id, event time)."""

    def __init__(self) -> None:
        self.at: dict[Key, float] = {}
        self.changed = threading.Condition()

    def add(self, key: Key, when: float) -> None:
        with self.changed:
            self.at.setdefault(key, when)
            self.changed.notify_all()

    def wait_for(self, keys: set[Key], deadline: float = 120.0) -> None:
        give_up = time.monotonic() + deadline
        with self.changed:
            while not keys <= self.at.keys():
                left = give_up - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(keys - self.at.keys())} events never arrived")
                self.changed.wait(left)


@contextmanager
def receiver(arrivals: Arrivals) -> Iterator[str]:
    """A receiver on a free loopback port; its URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            now = time.perf_counter()
            envelope = json.loads(body)
            if envelope["type"] == "agent.task.status_update":
                arrivals.add((envelope["payload"]["task_id"], envelope["timestamp"]), now)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def commit(store: Any, task_id: str) -> tuple[Key, float]:
    """One transition, committed; its event's key and when the commit returned."""
    outcome = transact(store, task_id, toggle)
    at = outcome.loaded.task.history[-1].at.astimezone(UTC).isoformat()
    return (task_id, at), time.perf_counter()


def seed(store: Any, prefix: str, count: int) -> list[str]:
    ids = [f"{prefix}-{n}" for n in range(count)]
    with store.transaction() as tx:
        for task_id in ids:
            task = Task(task_id)
            task.start()
            tx.add(task)
    return ids


def latency(store: Any, arrivals: Arrivals, samples: int) -> list[float]:
    """Seconds from commit to arrival, one transition at a time."""
    [task_id] = seed(store, "serial", 1)
    out = []
    for _ in range(samples):
        key, committed = commit(store, task_id)
        arrivals.wait_for({key})
        out.append(arrivals.at[key] - committed)
    return out


def throughput(store: Any, arrivals: Arrivals, per_client: int) -> tuple[float, float, list[float]]:
    """Events delivered per second and commits per second with 50 writers; the latencies."""
    ids = seed(store, f"load-{time.monotonic_ns()}", CLIENTS)
    committed: dict[Key, float] = {}
    lock = threading.Lock()
    errors: list[BaseException] = []

    def client(task_id: str) -> None:
        try:
            for _ in range(per_client):
                key, at = commit(store, task_id)
                with lock:
                    committed[key] = at
        except BaseException as error:  # reported after the join
            errors.append(error)

    threads = [threading.Thread(target=client, args=(task_id,)) for task_id in ids]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writes_done = time.perf_counter()
    if errors:
        raise errors[0]
    arrivals.wait_for(set(committed))
    last = max(arrivals.at[key] for key in committed)
    waits = [arrivals.at[key] - at for key, at in committed.items()]
    return len(committed) / (last - started), len(committed) / (writes_done - started), waits


def _ms(values: list[float], q: int) -> str:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return f"{cuts[q - 1] * 1000:.1f}"


_OTHERS: Final = (
    "SELECT coalesce(max(extract(epoch FROM now() - xact_start)), 0) FROM pg_stat_activity "
    "WHERE (backend_xid IS NOT NULL OR backend_xmin IS NOT NULL) "
    "AND pid <> pg_backend_pid() AND datname IS DISTINCT FROM current_database()"
)


@contextmanager
def others_watched(dsn: str) -> Iterator[list[float]]:
    """The age of the oldest transaction of other databases on the server, sampled every
    0.25 s: it holds back the feed's horizon (see ``tasklife.store.plan``) for every reader."""
    ages = [0.0]
    done = threading.Event()

    def sample() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            while not done.wait(0.25):
                row = conn.execute(_OTHERS).fetchone()
                ages[0] = max(ages[0], float(row[0]) if row else 0.0)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield ages
    finally:
        done.set()
        thread.join()


def _measure(name: str, open_store: Callable[[], Any], samples: int, per_client: int) -> list[str]:
    arrivals = Arrivals()
    with receiver(arrivals) as url, open_store() as store, WebhookSender(store, url, SECRET):
        serial = latency(store, arrivals, samples)
        rate, commits, loaded = throughput(store, arrivals, per_client)
    return [
        name, _ms(serial, 50), _ms(serial, 99), f"{rate:,.0f}", f"{commits:,.0f}",
        _ms(loaded, 50), _ms(loaded, 99), f"{len(serial)} / {len(loaded)}",
    ]  # fmt: skip


def run(quick: bool = False) -> Section:
    """Measure on SQLite and PostgreSQL; the section for BENCHMARKS.md."""
    samples, per_client = (30, 4) if quick else (300, 20)
    load_before = load_average()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.sqlite3"
        rows.append(_measure("SQLite", lambda: SQLiteTaskStore(path), samples, per_client))
    with database() as dsn, others_watched(dsn) as others:
        rows.append(
            _measure(
                "PostgreSQL",
                lambda: PostgresTaskStore(dsn, schema="bench", max_size=16),
                samples,
                per_client,
            )
        )
    held = others[0]
    shown = [("unknown" if x is None else f"{x:.2f}") for x in (load_before, load_average())]
    header = [
        "store", "commit -> receiver p50 ms", "p99 ms", "events delivered/s (50 clients)",
        "commits/s (50 clients)", "under load p50 ms", "p99 ms", "events (serial / load)",
    ]  # fmt: skip
    body = [
        f"A `WebhookSender` with its defaults (4 deliverers) over the store, a receiver on "
        f"127.0.0.1 answering 200 at once, writers committing transitions through `transact`. "
        f"Latency: one writer, {samples} transitions one at a time, from `transact` returning "
        f"to the receiver reading the POST. Throughput: {CLIENTS} writer threads (50 "
        f"concurrent clients), {per_client} transitions each, as fast as they commit; events "
        "delivered per second from the first commit to the last arrival. Writers, sender and "
        "receiver share one process (and its GIL) on the 2 cores. On SQLite the feed is "
        "polled every 50 ms (it cannot push); the serial writer commits right after the last "
        "event arrived, in phase with that poll, so it waits about one whole period (a commit "
        "at a random time waits half of one on average). PostgreSQL wakes the sender with "
        "LISTEN/NOTIFY.\n",
        table(header, rows),
        f"During the PostgreSQL rows the oldest transaction of other databases on the server "
        f"(other sessions' test runs) was at most {held:.1f} s old: the feed shows a commit "
        "only once every transaction older than it has ended, in any database of the server, "
        "so such a transaction delays every event behind it by up to its age.\n",
        f"Load average (1 min) {shown[0]} at the start of this section and {shown[1]} at its "
        "end. This section alone: `python -m bench --only deliveries`.\n",
    ]
    return Section("Webhooks: delivery", "\n".join(body))
