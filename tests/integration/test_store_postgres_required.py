"""Without a reachable PostgreSQL the PostgreSQL tests skip, saying how to enable them, and
``TASKLIFE_REQUIRE_POSTGRES=1`` (what ``.ci/run`` sets) turns that skip into a failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = (
    "tests/e2e/test_example_backend.py::TestBackendExample::test_runs_and_audits_every_change_once"
)
NOWHERE = "postgresql://postgres@127.0.0.1:1/postgres"


def _pytest(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", TARGET],
        cwd=ROOT,
        env=os.environ | {"TASKLIFE_TEST_POSTGRES": NOWHERE} | env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class TestPostgresRequired:
    def test_skipped_with_how_to_enable(self) -> None:
        """No server: skipped, and the reason names TASKLIFE_TEST_POSTGRES."""
        done = _pytest(TASKLIFE_REQUIRE_POSTGRES="0")
        assert done.returncode == 0, done.stdout
        assert "1 skipped" in done.stdout
        assert "TASKLIFE_TEST_POSTGRES" in done.stdout

    def test_required_turns_the_skip_into_a_failure(self) -> None:
        """No server and TASKLIFE_REQUIRE_POSTGRES=1: the run fails."""
        done = _pytest(TASKLIFE_REQUIRE_POSTGRES="1")
        assert done.returncode != 0
        assert "TASKLIFE_REQUIRE_POSTGRES=1 forbids skipping" in done.stdout
