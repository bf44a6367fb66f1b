"""``python -m bench --only reliability``: every reliability scenario, its figures printed.

The scenarios RELIABILITY.md quotes: the transport fault table (§3, both faces), the server's
reliability tests with the figures they attach (§2, §4-§6, §8) and the big-answers scenario
(§8). Each scenario is a module of ``bench`` with ``run(*, quick) -> str``, listed in
``SCENARIOS``; a new one joins by being listed there. The text is printed, never written to
BENCHMARKS.md: these are figures about behaviour, and RELIABILITY.md is where they are quoted.
"""

from __future__ import annotations

import importlib
import time

from bench.report import Section

__all__ = ["SCENARIOS", "run"]

SCENARIOS: tuple[tuple[str, str], ...] = (
    ("The transport fault table (section 3)", "bench.reliability_faults"),
    ("The server's scenarios (sections 2, 4-6, 8)", "bench.reliability_server"),
)
"""(title, module) of each scenario, in the order they run."""


def run(*, quick: bool = False) -> Section:
    """Run every scenario; a ``Section`` whose body is their figures (printed, not written)."""
    parts = []
    for title, name in SCENARIOS:
        started = time.perf_counter()
        text = importlib.import_module(name).run(quick=quick)
        parts += [f"### {title}\n", text, f"({time.perf_counter() - started:.0f} s)\n"]
    return Section("Reliability scenarios", "\n".join(parts))
