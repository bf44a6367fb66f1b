"""Servers as real subprocesses on 127.0.0.1: ``tasklife serve`` and the bare FastAPI baseline."""

from __future__ import annotations

import http.client
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import attrs

__all__ = ["ROOT", "Served", "missing_server_packages", "serve_bare", "serve_tasklife"]

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 30.0


@attrs.frozen
class Served:
    """A server listening on ``127.0.0.1:port``; ``key`` is its bearer key. ``ports`` are the
    ports of all its replicas (``port`` is the first)."""

    port: int
    key: str
    pid: int
    ports: tuple[int, ...] = ()

    @property
    def all_ports(self) -> tuple[int, ...]:
        """Every replica's port."""
        return self.ports or (self.port,)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"


def missing_server_packages() -> str | None:
    """Why the servers cannot run here, or None when FastAPI and uvicorn are importable."""
    for name in ("fastapi", "uvicorn", "httpx"):
        try:
            __import__(name)
        except ImportError:
            return f"{name} is not installed (pip install -e '.[server]')"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_ready(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"server exited with {process.returncode}:\n{tail}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/api/v1/ping")
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        time.sleep(0.05)  # polling a readiness condition, with a deadline
    raise RuntimeError(f"server on port {port} not ready after {READY_TIMEOUT:g} s")


@contextmanager
def _process(args: list[str], port: int, key: str, workdir: Path) -> Iterator[Served]:
    log = workdir / f"server-{port}.log"
    env = {**os.environ, "TASKLIFE_API_KEY": key}
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=out, env=env, cwd=ROOT)
    try:
        _wait_ready(process, port, log)
        yield Served(port, key, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def serve_tasklife(
    *, db: str | None = None, replicas: int = 1, access_log: bool = True
) -> Iterator[Served]:
    """``tasklife serve`` (manual steps) on free ports over a fresh SQLite file, or over ``db``
    (a PostgreSQL connection string; a fresh schema), ``replicas`` processes on one database;
    ``access_log=False`` passes ``--no-access-log``."""
    key = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="tasklife-bench-") as tmp, ExitStack() as stack:
        where = ["--db", str(Path(tmp) / "bench.sqlite3")]
        if db is not None:
            where = ["--db", db, "--db-schema", f"bench_{secrets.token_hex(6)}"]
        started = []
        for _ in range(replicas):
            port = _free_port()
            args = [sys.executable, "-m", "tasklife", "serve", "--host", "127.0.0.1",
                    "--port", str(port), *where, "--step-seconds", "0",
                    *([] if access_log else ["--no-access-log"])]  # fmt: skip
            started.append(stack.enter_context(_process(args, port, key, Path(tmp))))
        ports = tuple(s.port for s in started)
        yield Served(ports[0], key, started[0].pid, ports)


@contextmanager
def serve_bare(*, replicas: int = 1) -> Iterator[Served]:
    """The bare FastAPI app (``bench.bare_app``) on free ports, served the same way."""
    with tempfile.TemporaryDirectory(prefix="tasklife-bench-") as tmp, ExitStack() as stack:
        started = []
        for _ in range(replicas):
            port = _free_port()
            args = [sys.executable, "-m", "bench.bare_app", str(port)]
            started.append(stack.enter_context(_process(args, port, "", Path(tmp))))
        ports = tuple(s.port for s in started)
        yield Served(ports[0], "", started[0].pid, ports)
