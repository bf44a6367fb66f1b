"""A pytest plugin that writes the figures tests attach with ``record_property`` to a file.

``python -m pytest -p bench.pytest_figures ...`` with ``BENCH_FIGURES=path`` set: after the run,
``path`` holds a JSON list of ``{"test": node id, "outcome": ..., "seconds": ..., "figures":
{name: value}}``, one entry per test that ran. Tests assert and stay silent; the benchmark
reads what they measured from here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

_RESULTS: list[dict[str, Any]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Keep each test's outcome, duration and recorded properties (from its call phase)."""
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _RESULTS.append(
            {
                "test": report.nodeid,
                "outcome": report.outcome,
                "seconds": report.duration,
                "figures": dict(report.user_properties),
            }
        )
    elif report.when == "teardown" and report.user_properties and _RESULTS:
        _RESULTS[-1]["figures"].update(dict(report.user_properties))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the results where ``BENCH_FIGURES`` says."""
    target = os.environ.get("BENCH_FIGURES")
    if target:
        Path(target).write_text(json.dumps(_RESULTS, default=str), encoding="utf-8")
