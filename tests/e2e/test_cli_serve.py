"""``tasklife serve`` as a real process: it serves, logs without the key, and stops cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import httpx
import pytest

KEY = "e2e-secret-key-5f3a9c"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``tasklife ARGS`` to completion."""
    command = [sys.executable, "-m", "tasklife", *args]
    return subprocess.run(command, check=False, capture_output=True, text=True, env=env, timeout=60)


@attrs.define
class Served:
    """A running ``tasklife serve`` process; its output goes to files (a pipe could fill up)."""

    base_url: str
    process: subprocess.Popen[bytes]
    log: Path

    def interrupt(self) -> tuple[int, str]:
        """Ctrl-C the server; its exit status and everything it logged."""
        self.process.send_signal(signal.SIGINT)
        status = self.process.wait(timeout=15)
        return status, self.log.read_text()


def wait_ready(base_url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Poll /api/v1/ping until it answers 200; fail if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    interval = threading.Event()
    while True:
        assert process.poll() is None, "tasklife serve exited while starting"
        try:
            if httpx.get(f"{base_url}/api/v1/ping", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "tasklife serve was not ready in time"
        interval.wait(0.05)  # the poll interval


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """A `tasklife serve` process on a free port, its key from TASKLIFE_API_KEY."""
    port = free_port()
    env = {**os.environ, "TASKLIFE_API_KEY": KEY}
    env.pop("BROWSER_USE_API_KEY", None)
    log = tmp_path / "serve.log"
    command = [sys.executable, "-m", "tasklife", "serve", "--port", str(port),
               "--db", str(tmp_path / "t.sqlite3"), "--step-seconds", "0"]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base_url, process)
        yield Served(base_url, process, log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class TestServe:
    def test_serves_the_v1_api(self, served: Served) -> None:
        """A task created over HTTP can be paused, resumed and stopped."""
        base_url = served.base_url
        headers = {"Authorization": f"Bearer {KEY}"}
        with httpx.Client(base_url=base_url, headers=headers) as http:
            task_id = http.post("/api/v1/run-task", json={"task": "e2e"}).json()["id"]
            for action in ("pause", "resume", "stop"):
                response = http.put(f"/api/v1/{action}-task", params={"task_id": task_id})
                assert (response.status_code, response.json()) == (200, {})
            assert http.get(f"/api/v1/task/{task_id}/status").json() == "stopped"

    def test_logs_each_request_without_the_key(self, served: Served) -> None:
        """One log line per request with method, path and status; the key appears nowhere."""
        url = f"{served.base_url}/api/v1/tasks"
        httpx.get(url, headers={"Authorization": f"Bearer {KEY}"})
        httpx.get(url, headers={"Authorization": "Bearer wrong"})
        status, log = served.interrupt()
        assert status == 0
        assert "GET /api/v1/tasks 200" in log
        assert "GET /api/v1/tasks 401" in log
        assert KEY not in log

    def test_binds_loopback_by_default(self, served: Served) -> None:
        """Without --host the server listens on 127.0.0.1 and says so."""
        _, log = served.interrupt()
        assert f"Uvicorn running on {served.base_url}" in log


class TestServeRefuses:
    @pytest.mark.parametrize("key", ["", "   "], ids=["empty", "blank"])
    def test_empty_key(self, tmp_path: Path, key: str) -> None:
        """With an empty key the server refuses to start, exit status 2."""
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        result = run("serve", "--api-key", key, "--db", str(tmp_path / "t.db"), env=env)
        assert (result.returncode, "no API key" in result.stderr) == (2, True)

    def test_no_key_at_all(self, tmp_path: Path) -> None:
        """With neither --api-key nor an environment variable it refuses to start."""
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        result = run("serve", "--db", str(tmp_path / "t.db"), env=env)
        assert (result.returncode, "TASKLIFE_API_KEY" in result.stderr) == (2, True)
