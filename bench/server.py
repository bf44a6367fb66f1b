"""Server throughput: ``tasklife serve`` on SQLite and on PostgreSQL against a bare FastAPI
endpoint, under the same load, with one process and with three replicas of each.

Every server runs as real subprocesses (uvicorn, one process per replica, 127.0.0.1); the load
comes from another process (``bench.load``): 50 keep-alive clients, each alternating pause and
resume on its own task (created through ``run-task`` on the tasklife server; the bare server
ignores the id), client n talking to replica n mod 3. Rounds rotate which server is loaded
first. The tasklife server does the real work: auth, validation, the domain transition, a
database write (the task, its records, its feed entries, in one transaction) and its access
log line. On 2 cores three replicas cannot scale out: the point is each setup's ratio.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from contextlib import AbstractContextManager, ExitStack
from typing import Any

from bench.report import Section, Verdict, table
from bench.servers import ROOT, Served, missing_server_packages, serve_bare, serve_tasklife
from bench.store import database

__all__ = ["run"]

CLIENTS = 50
REPLICAS = 3
TARGET_RATIO = 0.5

CHOICES = """\
Choices in `tasklife/server/` and `tasklife/service/` made on measurements of this benchmark
(figures from the runs that made them; the tables above are measured afresh):

- Group commit: the requests that arrive together run in one transaction, committed once
  (`tasklife.service.writer`); the service keeps the tasks it saved, so an action reads its
  task's token, not its history. Before, each request ran inline on the event loop in a
  transaction of its own over a per-process cache of tasks (which replicas cannot share):
  0.44x the bare app on SQLite (run of 2026-11-29 03:20).
- On SQLite the event loop runs each batch itself, once it has read the requests waiting:
  handing the batches to a writer thread measured 0.37x (run of 2026-11-29 17:28: the two
  threads contend for the GIL at every statement), against 0.57x inline in a quick run. On
  PostgreSQL the batches run on the writer thread, so the loop never waits for a round trip.
- A save writes only what changed and encodes only the new records (`Task.head`), once each
  for the records table and the feed.
- Auth, the body limit and the access log are one pure ASGI layer (`RequestGuard`): moving
  auth out of a FastAPI `Depends` raised pause/resume throughput by about a tenth.
- The access log line is queued and written by a listener thread: written inline it cost
  ~20 µs per request, a sixth of the server's per-request budget.
- That thread lets lines gather for 0.05 s after each write: woken for every line, it took
  the GIL from the event loop at every request. Per request (CPU time of each thread under
  this load, run of 2026-11-29 19:57): ~75 µs of its own and ~140 µs more on the loop before,
  ~15 µs after; 0.42x -> 0.50x the bare app in that interleaved run, as much as
  `--no-access-log` (0.51x).
- The endpoints sit on the app's own router: an included router cost ~25 µs more per request
  (measured in an ASGI loop without a server).
"""


def _load(served: Served, seconds: float, *, create: bool) -> dict[str, Any]:
    ports = ",".join(str(port) for port in served.all_ports)
    args = [sys.executable, "-m", "bench.load", ports, str(CLIENTS), str(seconds)]
    out = subprocess.run(
        [*args, "--create"] if create else args,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "BENCH_API_KEY": served.key},
        timeout=seconds + 120,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def _not_measured(why: str) -> Section:
    return Section(
        "Server: 50 concurrent clients",
        f"Not measured: {why}.\n",
        (
            Verdict(
                "server throughput vs bare FastAPI",
                f"not measured: {why}",
                f"≥ {TARGET_RATIO:g}x",
                None,
            ),
        ),
    )


def _setups(postgres: str | None) -> dict[str, tuple[str, AbstractContextManager[Served]]]:
    """Each setup's name: (the bare setup it is compared with, how to start it)."""
    bare, bare3 = "bare FastAPI", f"bare FastAPI x{REPLICAS}"
    setups: dict[str, tuple[str, AbstractContextManager[Served]]] = {
        bare: (bare, serve_bare()),
        "tasklife serve, SQLite": (bare, serve_tasklife()),
        "tasklife serve, SQLite, --no-access-log": (bare, serve_tasklife(access_log=False)),
        bare3: (bare3, serve_bare(replicas=REPLICAS)),
        f"tasklife serve, SQLite x{REPLICAS}": (bare3, serve_tasklife(replicas=REPLICAS)),
    }
    if postgres is not None:
        setups["tasklife serve, PostgreSQL"] = (bare, serve_tasklife(db=postgres))
        setups[f"tasklife serve, PostgreSQL x{REPLICAS}"] = (
            bare3,
            serve_tasklife(db=postgres, replicas=REPLICAS),
        )
    return setups


def run(*, quick: bool) -> Section:
    """Rotate rounds of load over every setup; judge each throughput ratio."""
    missing = missing_server_packages()
    if missing:
        return _not_measured(missing)
    rounds, seconds = (1, 1.0) if quick else (3, 5.0)
    try:
        with ExitStack() as stack:
            try:
                postgres: str | None = stack.enter_context(database())
            except Exception as error:
                postgres, why_not = None, f"{type(error).__name__}"
            else:
                why_not = ""
            setups = _setups(postgres)
            served = {name: stack.enter_context(start) for name, (_, start) in setups.items()}
            results: dict[str, list[dict[str, Any]]] = {name: [] for name in setups}
            names = list(setups)
            for round_ in range(rounds):
                shift = round_ % len(names)
                for name in names[shift:] + names[:shift]:
                    create = not name.startswith("bare")
                    results[name].append(_load(served[name], seconds, create=create))
    except (RuntimeError, subprocess.SubprocessError, OSError) as error:
        return _not_measured(f"a server or the load generator failed: {error}")
    rps = {name: statistics.median(r["requests"] / r["seconds"] for r in rs)
           for name, rs in results.items()}  # fmt: skip
    rows = []
    for name, rs in results.items():
        statuses: dict[str, int] = {}
        for r in rs:
            for code, count in r["statuses"].items():
                statuses[code] = statuses.get(code, 0) + count
        each = [r["requests"] / r["seconds"] for r in rs]
        baseline = setups[name][0]
        rows.append(
            (name, f"{rps[name]:,.0f} ({min(each):,.0f}-{max(each):,.0f})",
             "" if baseline == name else f"{rps[name] / rps[baseline]:.2f}x",
             f"{statistics.median(r['p50_ms'] for r in rs):.2f}",
             f"{statistics.median(r['p99_ms'] for r in rs):.2f}",
             ", ".join(f"{k}: {v:,}" for k, v in sorted(statuses.items())),
             f"{statistics.median(r['actions_per_client'] for r in rs) + 1:,.0f}"
             if not name.startswith("bare") else "")
        )  # fmt: skip
    ratio = rps["tasklife serve, SQLite"] / rps["bare FastAPI"]
    errors = sum(
        v
        for name, rs in results.items()
        if not name.startswith("bare")
        for r in rs
        for k, v in r["statuses"].items()
        if k != "200"
    )
    body = [
        f"{CLIENTS} keep-alive clients alternating `PUT pause-task` / `PUT resume-task`, "
        f"{rounds} round(s) of {seconds:g} s per setup (after a 0.5 s warm-up), the setups' "
        f"order rotated each round; with x{REPLICAS}, {REPLICAS} processes on one database "
        f"and client n on replica n mod {REPLICAS}; load generator in its own process. "
        "Throughput: median over rounds (min-max); the ratio is against the bare app with as "
        "many processes; latency: median over rounds of each round's p50/p99; the last column "
        "is how many history records each client's task had at the end of a round (median).\n",
        table(
            [
                "setup",
                "requests/s",
                "vs bare",
                "p50 (ms)",
                "p99 (ms)",
                "responses",
                "records per task",
            ],
            rows,
        ),
        f"Throughput ratio tasklife serve on SQLite / bare, one process: **{ratio:.2f}x**"
        + (f" ({errors} non-200 responses from tasklife)" if errors else "")
        + ".\n",
        "" if postgres is not None else f"PostgreSQL not measured ({why_not}).\n",
        CHOICES,
    ]
    verdict = Verdict(
        "server throughput vs bare FastAPI (50 clients, SQLite)",
        f"{ratio:.2f}x ({rps['tasklife serve, SQLite']:,.0f} req/s)",
        f"≥ {TARGET_RATIO:g}x",
        ratio >= TARGET_RATIO and errors == 0,
    )
    return Section("Server: 50 concurrent clients", "\n".join(body), (verdict,))
