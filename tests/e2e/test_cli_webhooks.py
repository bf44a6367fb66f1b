"""``tasklife webhooks dead-letters`` and ``replay`` as real processes on a real SQLite file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from webhook_receiver import closed_port

from tasklife import Task
from tasklife.service import WebhookSender
from tasklife.store import SQLiteTaskStore, transact

SECRET = "whsec_SENTINEL_cli_77a1"


def tasklife(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tasklife", *args]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)


def one_dead_letter(db: Path) -> None:
    """A task's first event, posted once to a port nothing listens on, with no retry."""
    with SQLiteTaskStore(db) as store:
        with store.transaction() as tx:
            tx.add(Task("task-cli"))
        transact(store, "task-cli", Task.start)
        sender = WebhookSender(store, f"http://127.0.0.1:{closed_port()}/", SECRET, delays=())
        try:
            sender.consume()
            assert sender.pending() == 1
            [attempt] = sender.deliver()
            assert attempt.outcome == "dead"
        finally:
            sender.close()


class TestWebhooksCommand:
    def test_lists_then_replays_dead_letters(self, tmp_path: Path) -> None:
        """dead-letters lists the event; replay --all queues it; then none is left."""
        db = tmp_path / "tasks.sqlite3"
        one_dead_letter(db)
        listed = tasklife("webhooks", "dead-letters", "--db", str(db))
        assert listed.returncode == 0, listed.stderr
        [line] = listed.stdout.splitlines()
        assert line.split("\t")[1:3] == ["task-cli", "running"]
        as_json = tasklife("webhooks", "dead-letters", "--db", str(db), "--json")
        letter = json.loads(as_json.stdout)
        assert letter["body"]["payload"]["status"] == "started"
        assert SECRET not in listed.stdout + as_json.stdout + listed.stderr
        replayed = tasklife("webhooks", "replay", "--db", str(db), "--all")
        assert (replayed.returncode, replayed.stdout) == (0, "queued 1 dead letter(s) again\n")
        after = tasklife("webhooks", "dead-letters", "--db", str(db))
        assert (after.returncode, after.stdout, after.stderr) == (0, "", "no dead letters\n")
        with SQLiteTaskStore(db) as store:
            sender = WebhookSender(store, "https://example.com/", SECRET)
            assert sender.pending() == 1
            sender.close()

    def test_replays_by_id(self, tmp_path: Path) -> None:
        """replay --id N queues that dead letter only; an unknown id queues none."""
        db = tmp_path / "tasks.sqlite3"
        one_dead_letter(db)
        letter = json.loads(tasklife("webhooks", "dead-letters", "--db", str(db), "--json").stdout)
        missing = tasklife("webhooks", "replay", "--db", str(db), "--id", str(letter["id"] + 1))
        assert missing.stdout == "queued 0 dead letter(s) again\n"
        found = tasklife("webhooks", "replay", "--db", str(db), "--id", str(letter["id"]))
        assert found.stdout == "queued 1 dead letter(s) again\n"

    def test_missing_database_is_refused(self, tmp_path: Path) -> None:
        """A path with no database is one line on stderr and status 1; nothing is created."""
        db = tmp_path / "absent.sqlite3"
        result = tasklife("webhooks", "dead-letters", "--db", str(db))
        assert result.returncode == 1
        assert result.stderr == f"tasklife webhooks: no database at {db} (pass --db)\n"
        assert not db.exists()
