"""How cost grows: per-op cost and memory against history length and against live tasks.

History: for 1, 10, 100 and 1,000 records, a bare action (pause/resume pairs on a pool of live
tasks, each task used once per round so its history stays at about that length) and the whole
op (``from_dict`` + the next legal action + ``to_dict``, which reads and writes every record and
so grows with the history by design), plus traced bytes per task.

Live tasks: for 1k, 100k and 1M tasks (each created and started, one history record), a fresh
Python process (``python -m bench.scaling N``) builds them and reports the RSS it gained, the
build time and the cost of an action on tasks picked at random among them. RSS comes from psutil,
or /proc/self/statm where psutil is missing.
"""

from __future__ import annotations

import gc
import importlib
import io
import json
import random
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.report import Section, Verdict, table
from bench.timing import Stats, interleaved
from tasklife import Task

__all__ = ["run"]

HISTORY = (1, 10, 100, 1000)
LIVE = (1_000, 100_000, 1_000_000)
TARGET_MB = 500.0
TARGET_SECONDS = 10.0
PLOT = "bench/scaling.png"
_POOL = 200


def _task_with(records: int, name: str = "task_history") -> Task:
    task = Task(name)
    task.start()
    for i in range(records - 1):
        task.pause() if i % 2 == 0 else task.resume()
    return task


def _next(task: Task) -> Callable[[], bool]:
    return task.resume if task.status == "paused" else task.pause


def _history_contenders(
    dicts: dict[int, dict[str, Any]],
) -> tuple[dict[str, Callable[[], object]], dict[str, Callable[[], object]]]:
    ops: dict[str, Callable[[], object]] = {}
    bare: dict[str, Callable[[], object]] = {}
    for records, data in dicts.items():

        def op(data: dict[str, Any] = data) -> object:
            task = Task.from_dict(data)
            _next(task)()
            return task.to_dict()

        pool = [Task.from_dict(data) for _ in range(_POOL)]

        def pairs(pool: list[Task] = pool) -> object:
            for task in pool:
                task.pause() if task.status == "running" else task.resume()
                task.resume() if task.status == "paused" else task.pause()
            return None

        ops[str(records)] = op
        bare[str(records)] = pairs
    return ops, bare


def _bytes_per_task(data: dict[str, Any], count: int = 100) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tasks = [Task.from_dict(data) for _ in range(count)]
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del tasks
    return (after - before) / count


def _rss() -> int | None:
    try:
        psutil: Any = importlib.import_module("psutil")
    except ImportError:
        try:
            pages = int(Path("/proc/self/statm").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            return None
        import resource  # noqa: PLC0415 - POSIX only, needed only here

        return pages * resource.getpagesize()
    return int(psutil.Process().memory_info().rss)


def child(count: int) -> dict[str, Any]:
    """Build ``count`` started tasks in this process; RSS gained, build time, action cost."""
    gc.collect()
    rss_before = _rss()
    start = time.perf_counter()
    tasks = []
    for i in range(count):
        task = Task(f"task_{i:07d}")
        task.start()
        tasks.append(task)
    build = time.perf_counter() - start
    rss_after = _rss()
    sample = random.Random(0).choices(tasks, k=2000)
    started = time.perf_counter()
    for task in sample:
        task.pause()
        task.resume()
    action = (time.perf_counter() - started) / (2 * len(sample))
    return {
        "count": count,
        "build_s": build,
        "rss_before": rss_before,
        "rss_after": rss_after,
        "action_s": action,
    }


def _live(count: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.scaling", str(count)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def _mb(value: int | None) -> str:
    return "not measured" if value is None else f"{value / 1e6:.0f}"


def _plot(
    history: dict[str, Stats], ops: dict[str, Stats], live: list[dict[str, Any]]
) -> tuple[str, bytes | None]:
    try:
        matplotlib: Any = importlib.import_module("matplotlib")
    except ImportError:
        return "Plot not drawn: matplotlib is not installed (`pip install matplotlib`).\n", None
    matplotlib.use("Agg")
    plt: Any = importlib.import_module("matplotlib.pyplot")
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(14, 4))
    xs = [int(k) for k in history]
    left.plot(xs, [s.median * 1e6 / (2 * _POOL) for s in history.values()], "o-", label="action")
    left.plot(xs, [s.median * 1e6 for s in ops.values()], "s-", label="from_dict+action+to_dict")
    left.set(xscale="log", yscale="log", xlabel="history records", ylabel="µs",
             title="cost vs history length")  # fmt: skip
    left.legend()
    sizes = [r["count"] for r in live]
    rss = [(r["rss_after"] - r["rss_before"]) / 1e6 if r["rss_after"] else 0 for r in live]
    middle.plot(sizes, rss, "o-")
    middle.axhline(TARGET_MB, color="red", linestyle="--", label=f"target {TARGET_MB:g} MB")
    middle.set(xscale="log", yscale="log", xlabel="live tasks", ylabel="RSS gained (MB)",
               title="memory vs live tasks")  # fmt: skip
    middle.legend()
    right.plot(sizes, [r["build_s"] for r in live], "o-", label="build (s)")
    right.plot(sizes, [r["action_s"] * 1e6 for r in live], "s-", label="action (µs)")
    right.set(xscale="log", yscale="log", xlabel="live tasks", title="time vs live tasks")
    right.legend()
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    plt.close(fig)
    return f"![scaling]({PLOT})\n", png.getvalue()


def run(*, quick: bool) -> Section:
    """History and live-task scaling; judge the 1M-task memory and build-time targets."""
    rounds = 5 if quick else 15
    dicts: dict[int, dict[str, Any]] = {n: dict(_task_with(n).to_dict()) for n in HISTORY}
    ops, bare = _history_contenders(dicts)
    op_stats = interleaved(ops, rounds=rounds, batch_seconds=0.02 if quick else 0.1)
    bare_stats = interleaved(bare, rounds=rounds, batch_seconds=0, numbers=1)
    memory = {n: _bytes_per_task(d) for n, d in dicts.items()}
    history_rows = [
        (
            str(n),
            Stats(tuple(v / (2 * _POOL) for v in bare_stats[str(n)].values)).spread(1e6),
            op_stats[str(n)].spread(1e6),
            f"{memory[n]:,.0f}",
        )
        for n in HISTORY
    ]
    sizes = [n for n in LIVE if not (quick and n >= 1_000_000)]
    live = [_live(n) for n in sizes]
    live_rows = []
    for r in live:
        gained = None if r["rss_after"] is None else r["rss_after"] - r["rss_before"]
        per = "" if gained is None else f"{gained / r['count']:,.0f}"
        live_rows.append(
            (f"{r['count']:,}", _mb(gained), _mb(r["rss_after"]), per, f"{r['build_s']:.2f}",
             f"{r['action_s'] * 1e6:.2f}")
        )  # fmt: skip
    body = [
        f"Per history length ({rounds} rounds, interleaved; action: one pause or resume on a "
        f"pool of {_POOL} live tasks each holding that history; op: `from_dict` + next action + "
        "`to_dict`, linear in the history by design since it reads and writes every record):\n",
        table(
            ["history records", "µs per action", "µs per op", "traced bytes per task"], history_rows
        ),
        "Live tasks (each created and started; one fresh process per size; RSS gained while "
        "building them, the process's whole RSS after, build time, and one action on tasks "
        "picked at random among them):\n",
        table(
            [
                "live tasks",
                "RSS gained (MB)",
                "process RSS (MB)",
                "bytes per task",
                "build (s)",
                "µs per action",
            ],
            live_rows,
        ),
    ]
    files: tuple[tuple[str, bytes], ...] = ()
    if quick:
        body.append("Quick mode: no 1M size, no plot.\n")
    else:
        markdown, png = _plot(bare_stats, op_stats, live)
        body.append(markdown)
        files = () if png is None else ((PLOT, png),)
    verdicts: list[Verdict] = []
    million = next((r for r in live if r["count"] == 1_000_000), None)
    if million is None:
        why = "quick mode skips 1M"
        verdicts += [
            Verdict("1M live tasks, RSS gained", f"not measured: {why}", "≤ 500 MB", None),
            Verdict("1M live tasks, build time", f"not measured: {why}", "≤ 10 s", None),
        ]
    else:
        if million["rss_after"] is None:
            verdicts.append(Verdict("1M live tasks, RSS gained", "not measured: no psutil and "
                                    "no /proc", "≤ 500 MB", None))  # fmt: skip
        else:
            mb = (million["rss_after"] - million["rss_before"]) / 1e6
            verdicts.append(Verdict("1M live tasks, RSS gained", f"{mb:.0f} MB (process "
                                    f"{million['rss_after'] / 1e6:.0f} MB)",
                                    f"≤ {TARGET_MB:g} MB", mb <= TARGET_MB))  # fmt: skip
        seconds = million["build_s"]
        verdicts.append(Verdict("1M live tasks, build time", f"{seconds:.2f} s",
                                f"≤ {TARGET_SECONDS:g} s", seconds <= TARGET_SECONDS))  # fmt: skip
    return Section("Scaling", "\n".join(body), tuple(verdicts), files)


def main(argv: Sequence[str]) -> int:
    """Child entry point: ``python -m bench.scaling N`` prints one JSON result."""
    print(json.dumps(child(int(argv[0]))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
