"""The transport fault table, printed: every fault on a push and on a read, once and on every
attempt, on the sync and the async face, with the outcome, the requests sent, the local task
afterwards and the time the slowest injection took.

``run()`` returns the Markdown table RELIABILITY.md shows. The faults, the expected outcomes
and the runner are ``tests/integration/fault_table.py`` (its test asserts every row; this
prints them), run against ``tests/integration/faultserver.py`` on 127.0.0.1.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["run"]

TESTS = Path(__file__).resolve().parent.parent / "tests"


def run(*, quick: bool = False) -> str:
    """Run every case of the fault table and return it as Markdown (``quick``: sync face only)."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    from integration.fault_table import CASES, KEY, MoreFaultServer, render, run_case  # noqa: PLC0415

    cases = [case for case in CASES if case.side == "sync"] if quick else CASES
    rows = []
    for case in cases:
        with MoreFaultServer(api_key=KEY) as server:  # a fresh server: no reply left over
            rows.append(run_case(server, case))
    failed = [row for row in rows if row.problems()]
    summary = (
        f"{len(rows)} cases, {len(rows) - len(failed)} as expected, "
        f"local divergence: {sum(row.local != row.remote for row in rows)}.\n\n"
    )
    return summary + render(rows)


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
