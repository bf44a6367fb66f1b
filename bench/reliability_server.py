"""Reliability scenarios of the server that produce figures (``run()`` returns the text).

- **Big answers**: one tenant stores 100 tasks of ~1 MiB text and asks for them with 6
  concurrent ``GET /api/v1/tasks?limit=100``, while another client pings. Figures: how long
  the pings waited while the pages were built and sent, how long the pages took, and the
  server's peak RSS (``VmHWM``) gained.
- **The server's reliability tests**: the model-based HTTP sequences, schemathesis, 50
  concurrent clients, SIGKILL under load and a flood of hostile connections run as they do in
  ``pytest`` (they assert); the
  figures they attach to their reports (``record_property``) are gathered through
  ``bench.pytest_figures`` and shown here.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from bench.report import table
from bench.servers import ROOT, Served, missing_server_packages, serve_tasklife

__all__ = ["big_answers", "run", "tests_figures"]

TESTS = (
    "tests/integration/test_reliability_server_model.py",
    "tests/integration/test_reliability_schema.py",
    "tests/integration/test_reliability_http_concurrency.py",
    "tests/e2e/test_crash_sigkill.py",
    "tests/e2e/test_cli_serve.py::TestServeUnderAFlood",
)

TASKS = 100
TEXT = 1_000_000
PAGES = 6


def _peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size so far (``VmHWM``), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc (Linux only)")


def _pinger(base_url: str, done: threading.Event, waits: list[float]) -> None:
    with httpx.Client(base_url=base_url, timeout=120) as http:
        while not done.is_set():
            started = time.perf_counter()
            http.get("/api/v1/ping").raise_for_status()
            waits.append(time.perf_counter() - started)
            done.wait(0.02)  # the ping interval


def _page(served: Served, seconds: list[float]) -> None:
    headers = {"Authorization": f"Bearer {served.key}"}
    with httpx.Client(base_url=served.base_url, headers=headers, timeout=300) as http:
        started = time.perf_counter()
        response = http.get("/api/v1/tasks", params={"limit": 100})
        response.raise_for_status()
        assert len(response.json()["tasks"]) == TASKS
        seconds.append(time.perf_counter() - started)


def big_answers(tasks: int = TASKS) -> str:
    """The big-answers scenario against ``tasklife serve``; a Markdown table of its figures."""
    with serve_tasklife() as served:
        headers = {"Authorization": f"Bearer {served.key}"}
        with httpx.Client(base_url=served.base_url, headers=headers, timeout=60) as http:
            for i in range(tasks):
                body = {"task": f"{i:04d}" + "x" * (TEXT - 4)}
                http.post("/api/v1/run-task", json=body).raise_for_status()
        before = _peak_rss_mb(served.pid)
        done = threading.Event()
        waits: list[float] = []
        pinger = threading.Thread(target=_pinger, args=(served.base_url, done, waits))
        pinger.start()
        seconds: list[float] = []
        pages = [threading.Thread(target=_page, args=(served, seconds)) for _ in range(PAGES)]
        for thread in pages:
            thread.start()
        for thread in pages:
            thread.join()
        done.set()
        pinger.join()
        after = _peak_rss_mb(served.pid)
    return table(
        ["scenario", "pings", "ping wait p50 / max (ms)", "pages done in (s)", "peak RSS gained"],
        [
            (
                f"{tasks} tasks x {TEXT // 1000:,} kB text, {PAGES} concurrent "
                "`GET /api/v1/tasks?limit=100`",
                str(len(waits)),
                f"{statistics.median(waits) * 1000:.1f} / {max(waits) * 1000:.0f}",
                f"{max(seconds):.1f}",
                f"{after - before:,.0f} MB (peak {after:,.0f} MB)",
            )
        ],
    )


def _pytest(tests: tuple[str, ...], *options: str) -> list[dict[str, Any]]:
    """Run ``tests`` with pytest in a subprocess; what ``bench.pytest_figures`` gathered."""
    with tempfile.TemporaryDirectory(prefix="tasklife-bench-") as folder:
        out = Path(folder) / "figures.json"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   "-p", "bench.pytest_figures", *options, *tests]  # fmt: skip
        subprocess.run(
            command,
            cwd=ROOT,
            env={**os.environ, "BENCH_FIGURES": str(out)},
            capture_output=True,
            check=False,
            timeout=3600,
        )
        if not out.exists():
            raise RuntimeError(f"pytest wrote no figures: {' '.join(command)}")
        results: list[dict[str, Any]] = json.loads(out.read_text(encoding="utf-8"))
    return results


def tests_figures(*options: str) -> str:
    """The figures the server's reliability tests attach to their reports, as Markdown.

    Each row's last column is what the test asserts, or FAILED when it did not pass.
    """
    results = _pytest(TESTS, *options)
    outcomes = Counter(r["outcome"] for r in results)
    found: dict[str, list[tuple[Any, bool]]] = {}
    for result in results:
        for name, value in result["figures"].items():
            found.setdefault(name, []).append((value, result["outcome"] == "passed"))
    rows = []

    def row(scenario: str, what: str, claim: str, passed: bool) -> None:
        rows.append((scenario, what, claim if passed else "FAILED"))

    for model, passed in found.get("server model", []):
        what = ", ".join(f"{k} {v:,}" for k, v in model.items())
        row("HTTP sequences against a model, with restarts", what, "0 disagreements", passed)
    statuses: Counter[str] = Counter()
    for counts, _ in found.get("statuses", []):
        statuses.update(counts)
    if statuses:
        what = f"{sum(statuses.values()):,} requests: " + ", ".join(
            f"{code}: {n:,}" for code, n in sorted(statuses.items())
        )
        passed = all(ok for _, ok in found["statuses"])
        row("schemathesis, every operation, both modes", what, "no 5xx, schema kept", passed)
    for load, passed in found.get("http concurrency", []):
        what = (
            f"{load['requests']:,} requests ({load['codes']}); "
            f"{load['pause/resume 200s']:,} pause/resume 200s"
        )
        claim = f"every 200 is one record ({load['records'] - load['start records']:,})"
        row("50 clients, conflicting actions on 10 tasks", what, claim, passed)
    for cycles, passed in found.get("crash cycles", []):
        what = ", ".join(f"{c['acknowledged']:,} acknowledged" for c in cycles)
        claim = f"lost {sum(c['lost'] for c in cycles)}; in flight and applied " + ", ".join(
            str(c["in_flight_applied"]) for c in cycles
        )
        row(f"SIGKILL under load, {len(cycles)} cycles", what, claim, passed)
    for flood, passed in found.get("flood", []):
        what = (
            f"{flood['connections']:,} garbage, abandoned and excess connections, the server "
            f"limited to {flood['fd limit']} fds"
        )
        claim = (
            f"{flood['log lines']:,} log lines ({flood['warning lines']} warnings), "
            f"{flood['tracebacks']} traceback(s), {flood['held back']:,} repeats held back"
        )
        row("a flood of hostile connections against `tasklife serve`", what, claim, passed)
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
    return "\n".join(
        [
            f"`python -m pytest {' '.join([*options, *TESTS])}`: {summary}.\n",
            table(["scenario", "what ran", "outcome"], rows),
        ]
    )


def run(*, quick: bool = False) -> str:
    """Every scenario of this module, as Markdown."""
    missing = missing_server_packages()
    if missing:
        return f"Not measured: {missing}.\n"
    return "\n".join(
        [
            "### Big answers\n",
            big_answers(20 if quick else TASKS),
            "### The server's reliability tests\n",
            tests_figures(),
        ]
    )


if __name__ == "__main__":
    print(run())
