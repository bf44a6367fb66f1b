"""``tasklife serve`` as real processes for the end-to-end tests: start, SIGKILL, stop.

``ServeProcess`` runs ``python -m tasklife serve`` on a free loopback port with the ``--db`` and
other arguments it is given; ``start()`` returns once ``/api/v1/ping`` answers (polled with a
deadline, never by sleeping); ``kill()`` sends SIGKILL, so no shutdown code runs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import attrs
import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def wait_ready(
    base_url: str,
    process: subprocess.Popen[bytes],
    timeout: float = 30,
    log: Path | None = None,
) -> None:
    """Poll /api/v1/ping until it answers 200; fail (with the log, if given) if the process
    dies or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    interval = threading.Event()
    while True:
        if process.poll() is not None:
            said = "" if log is None else log.read_text()
            raise AssertionError(f"tasklife serve exited while starting\n{said}")
        try:
            if httpx.get(f"{base_url}/api/v1/ping", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "tasklife serve was not ready in time"
        interval.wait(0.05)  # the poll interval


@attrs.define
class ServeProcess:
    """A ``tasklife serve`` process: its key, its arguments (``--db`` and the rest), its log."""

    key: str
    args: tuple[str, ...]
    log: Path
    port: int = attrs.field(factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the process and wait until it answers (30 s at most)."""
        env = {**os.environ, "TASKLIFE_API_KEY": self.key}
        command = [sys.executable, "-m", "tasklife", "serve", "--port", str(self.port), *self.args]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        self.wait_ready()

    def wait_ready(self) -> None:
        assert self.process is not None
        wait_ready(self.base_url, self.process, log=self.log)

    def kill(self) -> None:
        """SIGKILL the process and reap it."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=15)

    def stop(self) -> None:
        """Kill the process if it still runs (idempotent)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=15)

    def client(self, **options: object) -> httpx.Client:
        """An ``httpx.Client`` on this server with its key."""
        headers = {"Authorization": f"Bearer {self.key}"}
        return httpx.Client(base_url=self.base_url, headers=headers, **options)  # type: ignore[arg-type]
