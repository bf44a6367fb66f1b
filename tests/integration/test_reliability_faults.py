"""The fault-injection table (``integration.fault_table``), asserted row by row.

For each row: the outcome is a success or the expected ``TransportError`` subclass (never
another exception; for a cancelled caller, its ``CancelledError``), the local task equals the
remote afterwards (no divergence), a failure leaves it unchanged, and the number of requests is
bounded by the retry policy. The printed table (with timings) is ``bench/reliability_faults.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integration.fault_table import CASES, KEY, Case, MoreFaultServer, run_case


@pytest.fixture
def server() -> Iterator[MoreFaultServer]:
    """A fault server on a free loopback port that expects the table's key."""
    with MoreFaultServer(api_key=KEY) as fault_server:
        yield fault_server


class TestFaultTable:
    @pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
    def test_fault(self, server: MoreFaultServer, case: Case) -> None:
        """The expected outcome; the local task matches the remote; requests are bounded."""
        assert run_case(server, case).problems() == []
