"""examples/backend.py, the README's "Use tasklife in your own backend", run as a process."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import psycopg

from tasklife.store import PostgresTaskStore

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "backend.py"


class TestBackendExample:
    def test_fits_in_100_lines(self) -> None:
        """The example stays short enough to read in one sitting (issue 11: 100 lines)."""
        assert len(EXAMPLE.read_text(encoding="utf-8").splitlines()) <= 100

    def test_runs_and_audits_every_change_once(self, postgres_server: str) -> None:
        """Workers, stops and the consumer: every feed entry is in the audit table once."""
        schema = f"example_{uuid.uuid4().hex[:8]}"
        done = subprocess.run(
            [sys.executable, str(EXAMPLE), postgres_server, schema],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "5 jobs now stopped" in done.stdout
        with PostgresTaskStore(postgres_server, schema=schema) as store:
            feed = [c.cursor for c in store.changes(limit=10_000)]
            with store.transaction() as tx:
                histories = [tx.load(f"job_{n}").task.history for n in range(5)]
        with psycopg.connect(postgres_server) as conn:
            rows = conn.execute(f'SELECT position FROM "{schema}".audit').fetchall()
        assert sorted(r[0] for r in rows) == sorted(feed)
        records = sum(len(h) for h in histories)
        assert len(feed) == 5 + records  # an "added" entry per job and one per record
        assert all(h[-1].action.value == "stop" for h in histories)
