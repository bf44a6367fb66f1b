"""``tasklife demo`` as a real process: it drives one task end to end and exits 0."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def demo() -> subprocess.CompletedProcess[str]:
    """One run of `python -m tasklife demo` (shared by this module's tests)."""
    return subprocess.run(
        [sys.executable, "-m", "tasklife", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class TestDemo:
    def test_exits_zero(self, demo: subprocess.CompletedProcess[str]) -> None:
        """The demo exits with status 0 and writes nothing to stderr."""
        assert (demo.returncode, demo.stderr) == (0, "")

    def test_serves_on_loopback(self, demo: subprocess.CompletedProcess[str]) -> None:
        """The server it starts listens on 127.0.0.1."""
        assert re.search(r"server on http://127\.0\.0\.1:\d+", demo.stdout)

    @pytest.mark.parametrize(
        "line",
        [
            "start   created -> running",
            "pause   running -> paused",
            "resume  paused -> running",
            "stop    running -> stopped",
        ],
        ids=["start", "pause", "resume", "stop"],
    )
    def test_prints_each_transition(
        self, demo: subprocess.CompletedProcess[str], line: str
    ) -> None:
        """Each transition is printed as it happens."""
        assert line in demo.stdout

    def test_resume_after_stop_is_refused_with_the_message(
        self, demo: subprocess.CompletedProcess[str]
    ) -> None:
        """The final resume is refused, locally and by the server (409), with the message."""
        text = " ".join(demo.stdout.split())
        assert "refused locally, before any request was sent (CannotResumeStoppedTask)" in text
        assert "answers 409" in text
        assert text.count("a stopped task can never be resumed") == 2

    def test_prints_the_history_table(self, demo: subprocess.CompletedProcess[str]) -> None:
        """The history table has a header and the four transitions in order."""
        rows = re.findall(r"^(\d)\s+(\w+)\s+(\w+)\s+(\w+)\s+(local|remote)", demo.stdout, re.M)
        assert [r[:4] for r in rows] == [
            ("1", "start", "created", "running"),
            ("2", "pause", "running", "paused"),
            ("3", "resume", "paused", "running"),
            ("4", "stop", "running", "stopped"),
        ]

    def test_server_agrees(self, demo: subprocess.CompletedProcess[str]) -> None:
        """The demo confirms the server's status and stored history match the client's."""
        text = " ".join(demo.stdout.split())
        assert (
            "The server agrees: the task is stopped, and its stored history holds the same 4"
            in text
        )

    def test_prints_the_verified_webhooks_beside_the_history(
        self, demo: subprocess.CompletedProcess[str]
    ) -> None:
        """Each transition's webhook was verified and applied by the local receiver."""
        assert re.search(
            r"sending signed webhooks to a local\s+receiver on http://127\.0\.0\.1:", demo.stdout
        )
        rows = re.findall(
            r"^(\d)\s+(\w+)\s+\w+\s+\w+\s+(?:local|remote)\s+\S+\s+(\w+)\s+(\w+)$",
            demo.stdout,
            re.M,
        )
        assert rows == [
            ("1", "start", "started", "applied"),
            ("2", "pause", "paused", "applied"),
            ("3", "resume", "started", "applied"),
            ("4", "stop", "stopped", "applied"),
        ]
        assert "(and 1 test event, verified and ignored: nothing to apply)" in demo.stdout

    def test_receiver_copy_agrees(self, demo: subprocess.CompletedProcess[str]) -> None:
        """The receiver's copy of the task, built from the webhooks alone, is stopped too."""
        assert "The receiver's copy agrees: the task is stopped there too" in demo.stdout
