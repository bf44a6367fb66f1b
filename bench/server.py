"""Server throughput: ``tasklife serve`` against a bare FastAPI endpoint, under the same load.

Both servers run as real subprocesses (uvicorn, one process each, 127.0.0.1); the load comes
from a third process (``bench.load``): 50 keep-alive clients, each alternating pause and resume
on its own task (created through ``run-task`` on the tasklife server; the bare server ignores
the id). Rounds alternate which server is loaded first. The tasklife server does the real work:
auth, validation, the domain transition, a SQLite (WAL) write and its access log line.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from typing import Any

from bench.report import Section, Verdict, table
from bench.servers import ROOT, Served, missing_server_packages, serve_bare, serve_tasklife

__all__ = ["run"]

CLIENTS = 50
TARGET_RATIO = 0.5

CHOICES = """\
Choices in `tasklife/server/` made on measurements of this benchmark (figures from the runs
that made them; the tables above are measured afresh):

- Endpoints are `async def` and call the service inline: 0.56x the bare app's throughput,
  against 0.27x (p99 330 ms) with plain `def` endpoints run in Starlette's thread pool.
  Answers that can be large (a task view, a page of tasks, a history) are the exception: they
  are built and encoded off the event loop (RELIABILITY.md, claims).
- Auth, the body limit and the access log are one pure ASGI layer (`RequestGuard`): moving
  auth out of a FastAPI `Depends` raised pause/resume throughput by about a tenth.
- The access log line is queued and written by a listener thread: written inline it cost
  ~20 µs per request, a sixth of the server's per-request budget.
"""


def _load(served: Served, seconds: float, *, create: bool) -> dict[str, Any]:
    args = [sys.executable, "-m", "bench.load", str(served.port), str(CLIENTS), str(seconds)]
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


def run(*, quick: bool) -> Section:
    """Alternate rounds of load on both servers; judge the throughput ratio."""
    missing = missing_server_packages()
    if missing:
        return _not_measured(missing)
    rounds, seconds = (1, 1.0) if quick else (3, 5.0)
    results: dict[str, list[dict[str, Any]]] = {"tasklife serve": [], "bare FastAPI": []}
    try:
        with serve_tasklife() as ours, serve_bare() as bare:
            servers = {"tasklife serve": ours, "bare FastAPI": bare}
            for round_ in range(rounds):
                order = list(servers) if round_ % 2 == 0 else list(servers)[::-1]
                for name in order:
                    results[name].append(
                        _load(servers[name], seconds, create=servers[name] is ours)
                    )
    except (RuntimeError, subprocess.SubprocessError, OSError) as error:
        return _not_measured(f"a server or the load generator failed: {error}")
    rps = {name: [r["requests"] / r["seconds"] for r in rs] for name, rs in results.items()}
    rows = []
    for name, rs in results.items():
        statuses: dict[str, int] = {}
        for r in rs:
            for code, count in r["statuses"].items():
                statuses[code] = statuses.get(code, 0) + count
        rows.append(
            (name, f"{statistics.median(rps[name]):,.0f} ({min(rps[name]):,.0f}-"
             f"{max(rps[name]):,.0f})",
             f"{statistics.median(r['p50_ms'] for r in rs):.2f}",
             f"{statistics.median(r['p99_ms'] for r in rs):.2f}",
             ", ".join(f"{k}: {v:,}" for k, v in sorted(statuses.items())))
        )  # fmt: skip
    ratio = statistics.median(rps["tasklife serve"]) / statistics.median(rps["bare FastAPI"])
    errors = sum(
        v for r in results["tasklife serve"] for k, v in r["statuses"].items() if k != "200"
    )
    per_round = table(
        ["round", *(f"{name} req/s" for name in results), "history records per task at the end"],
        [
            (str(i + 1), *(f"{rps[name][i]:,.0f}" for name in results),
             f"{results['tasklife serve'][i]['actions_per_client'] + 1:,.0f}")
            for i in range(rounds)
        ],
    )  # fmt: skip
    body = [
        f"{CLIENTS} keep-alive clients alternating `PUT pause-task` / `PUT resume-task`, "
        f"{rounds} round(s) of {seconds:g} s per server (after a 0.5 s warm-up), servers "
        "alternated each round; load generator in its own process. Throughput: median over "
        "rounds (min-max); latency: median over rounds of each round's p50/p99.\n",
        table(["server", "requests/s", "p50 (ms)", "p99 (ms)", "responses"], rows),
        f"Throughput ratio tasklife / bare: **{ratio:.2f}x**"
        + (f" ({errors} non-200 responses from tasklife)" if errors else "")
        + ".\n",
        "Per round (each round's clients create fresh tasks; each client's task gains one "
        "history record per request, so the last column is how long the histories grew):\n",
        per_round,
        CHOICES,
    ]
    verdict = Verdict(
        "server throughput vs bare FastAPI (50 clients)",
        f"{ratio:.2f}x ({statistics.median(rps['tasklife serve']):,.0f} req/s)",
        f"≥ {TARGET_RATIO:g}x",
        ratio >= TARGET_RATIO and errors == 0,
    )
    return Section("Server: 50 concurrent clients", "\n".join(body), (verdict,))
