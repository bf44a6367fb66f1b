"""``tasklife serve`` as a real process: it serves, logs without the key, and stops cleanly."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import httpx
import psycopg
import pytest
from psycopg import conninfo
from serve_kit import wait_ready

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

    db: Path

    def interrupt(self, how: signal.Signals = signal.SIGINT) -> tuple[int, str]:
        """Ctrl-C (or another signal to) the server; its exit status and everything it logged."""
        self.process.send_signal(how)
        status = self.process.wait(timeout=15)
        return status, self.log.read_text()


@contextmanager
def serving(tmp_path: Path, *db_args: str) -> Iterator[Served]:
    """A `tasklife serve` process on a free port over ``--db`` and the other ``db_args`` (a
    SQLite file in ``tmp_path`` when none are given), its key from TASKLIFE_API_KEY."""
    port = free_port()
    env = {**os.environ, "TASKLIFE_API_KEY": KEY}
    env.pop("BROWSER_USE_API_KEY", None)
    log = tmp_path / "serve.log"
    db = tmp_path / "t.sqlite3"
    command = [sys.executable, "-m", "tasklife", "serve", "--port", str(port),
               *(db_args or ("--db", str(db))), "--step-seconds", "0.05"]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base_url, process)
        yield Served(base_url, process, log, db)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """A `tasklife serve` process on a free port over a SQLite file."""
    with serving(tmp_path) as server:
        yield server


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

    def test_no_access_log_writes_no_request_line(self, tmp_path: Path) -> None:
        """With --no-access-log, requests leave no line; start-up and shutdown still log."""
        with serving(tmp_path, "--db", str(tmp_path / "t.sqlite3"), "--no-access-log") as served:
            url = f"{served.base_url}/api/v1/tasks"
            assert httpx.get(url, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
            status, log = served.interrupt()
        assert status == 0
        assert "Uvicorn running on" in log
        assert "Application shutdown complete" in log
        assert "/api/v1/tasks" not in log

    def test_binds_loopback_by_default(self, served: Served) -> None:
        """Without --host the server listens on 127.0.0.1 and says so."""
        _, log = served.interrupt()
        assert f"Uvicorn running on {served.base_url}" in log


class TestServeStops:
    @pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
    def test_signal_is_a_clean_shutdown(self, served: Served, how: signal.Signals) -> None:
        """SIGTERM ends serve as Ctrl-C does: exit 0, store closed, its WAL checkpointed."""
        headers = {"Authorization": f"Bearer {KEY}"}
        with httpx.Client(base_url=served.base_url, headers=headers) as http:
            task_id = http.post("/api/v1/run-task", json={"task": "e2e"}).json()["id"]
            assert http.put("/api/v1/pause-task", params={"task_id": task_id}).status_code == 200
        status, log = served.interrupt(how)
        assert status == 0, log
        assert "Application shutdown complete" in log
        wal = served.db.with_name(served.db.name + "-wal")
        assert not wal.exists() or wal.stat().st_size == 0, "the store was not closed"
        with sqlite3.connect(served.db) as db:
            rows = db.execute(
                "SELECT status FROM tasklife_tasks WHERE id = ?", (task_id,)
            ).fetchall()
        assert rows == [("paused",)]


class TestServeRefuses:
    @pytest.mark.parametrize("key", ["", "   "], ids=["empty", "blank"])
    def test_empty_key(self, tmp_path: Path, key: str) -> None:
        """With an empty key the server refuses to start, exit status 2."""
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        result = run("serve", "--api-key", key, "--db", str(tmp_path / "t.db"), env=env)
        assert (result.returncode, "no API key" in result.stderr) == (2, True)

    @pytest.mark.parametrize(
        "key", [" e2e-key", "e2e-key ", "e2e-key\n", "\te2e-key", "e2e\x07key", "clé-e2e"],
        ids=["leading-space", "trailing-space", "newline", "tab", "control", "non-ascii"],
    )  # fmt: skip
    def test_key_no_client_can_send(self, tmp_path: Path, key: str) -> None:
        """A key with whitespace around it (or one no header can carry) is refused at start."""
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        result = run("serve", "--api-key", key, "--db", str(tmp_path / "t.db"), env=env)
        assert result.returncode == 2, result.stderr
        [line] = result.stderr.splitlines()
        assert line.startswith("tasklife serve: the key ")
        assert key.strip() not in line
        assert not (tmp_path / "t.db").exists()

    @pytest.mark.parametrize("step", ["-1", "86400", "nan", "inf"])
    def test_step_period_out_of_range(self, tmp_path: Path, step: str) -> None:
        """A step period the service refuses: one line naming it, exit 2, no database made."""
        result = run("serve", "--api-key", KEY, "--db", str(tmp_path / "t.db"),
                     "--step-seconds", step, env=dict(os.environ))  # fmt: skip
        assert result.returncode == 2, result.stderr
        [line] = result.stderr.splitlines()
        assert line.startswith("tasklife serve: step_seconds: must be a number of seconds >= 0")
        assert not (tmp_path / "t.db").exists()

    def test_no_key_at_all(self, tmp_path: Path) -> None:
        """With neither --api-key nor an environment variable it refuses to start."""
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        result = run("serve", "--db", str(tmp_path / "t.db"), env=env)
        assert (result.returncode, "TASKLIFE_API_KEY" in result.stderr) == (2, True)

    def test_port_in_use(self, tmp_path: Path) -> None:
        """An address already in use: the log says so, exit status 1, the store is closed."""
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = str(taken.getsockname()[1])
            result = run("serve", "--api-key", KEY, "--port", port,
                         "--db", str(tmp_path / "t.db"), env=dict(os.environ))  # fmt: skip
        assert result.returncode == 1
        assert "address already in use" in result.stderr
        assert "Traceback" not in result.stderr


def unprivileged() -> list[str]:
    """A command prefix that runs a process as a user the file permissions bind (root is not)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: no way to make a folder read-only")
    prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    probe = subprocess.run([*prefix, sys.executable, "-c", "import tasklife"], check=False)
    if probe.returncode != 0:
        pytest.skip("this Python cannot run as an unprivileged user here")
    return prefix


def read_only_folder() -> Iterator[Path]:
    """A folder anyone can enter and nobody but root can write."""
    top = Path(tempfile.mkdtemp(prefix="tasklife-ro-"))
    top.chmod(0o755)
    folder = top / "read-only"
    folder.mkdir(mode=0o555)
    folder.chmod(0o555)
    try:
        yield folder
    finally:
        shutil.rmtree(top)


BAD_DATABASES = {
    "missing-folder": ("{tmp}/no/such/t.sqlite3", "the folder {tmp}/no/such does not exist"),
    "not-a-database": ("{tmp}/notes.txt", "file is not a database"),
    "a-folder": ("{tmp}", "is a folder, not a database file"),
}  # fmt: skip


class TestServeCannotOpenItsDatabase:
    @pytest.mark.parametrize(("db", "says"), BAD_DATABASES.values(), ids=BAD_DATABASES.keys())
    def test_says_what_and_where(self, tmp_path: Path, db: str, says: str) -> None:
        """A database that cannot be opened: one line naming the file and why, exit 1."""
        (tmp_path / "notes.txt").write_text("these are notes, not a database\n" * 64)
        path = db.format(tmp=tmp_path)
        result = run("serve", "--api-key", KEY, "--db", path, env=dict(os.environ))
        assert result.returncode == 1
        [line] = result.stderr.splitlines()[-1:]
        assert line.startswith(f"tasklife serve: cannot open the task store {path}: ")
        assert says.format(tmp=tmp_path) in line
        assert "Traceback" not in result.stderr

    def test_read_only_folder(self) -> None:
        """A folder the server may not write in: said, with the folder's path, exit 1."""
        prefix = unprivileged()
        for folder in read_only_folder():
            command = [*prefix, sys.executable, "-m", "tasklife", "serve", "--api-key", KEY,
                       "--db", str(folder / "t.sqlite3")]  # fmt: skip
            result = subprocess.run(
                command, check=False, capture_output=True, text=True, timeout=60
            )
            assert result.returncode == 1
            assert f"the folder {folder} is read-only" in result.stderr
            assert "Traceback" not in result.stderr


BLOCKER = """\
import sys

class Missing:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {BLOCKED!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, Missing())
"""


@pytest.fixture
def without_fastapi(tmp_path: Path) -> dict[str, str]:
    """An environment in which fastapi cannot be imported (a meta-path blocker at start-up)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER.format(BLOCKED={"fastapi"}))
    env = {**os.environ, "TASKLIFE_API_KEY": KEY}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return env


class TestMissingExtra:
    def test_import_says_which_extra(self, without_fastapi: dict[str, str]) -> None:
        """import tasklife.server without FastAPI: an ImportError naming the extra."""
        code = (
            "try:\n    import tasklife.server\n"
            "except ImportError as error:\n    print(error)\n"
            "import tasklife.service, tasklife.store\nprint('service layer ok')"
        )
        result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                                text=True, env=without_fastapi, timeout=60)  # fmt: skip
        assert result.stdout.splitlines() == [
            "tasklife's server needs FastAPI, uvicorn and httpx (fastapi is missing): "
            "pip install 'tasklife[server]'",
            "service layer ok",
        ]

    @pytest.mark.parametrize("command", [["serve"], ["demo"]], ids=["serve", "demo"])
    def test_command_says_which_extra(
        self, tmp_path: Path, without_fastapi: dict[str, str], command: list[str]
    ) -> None:
        """serve and demo without FastAPI print one line naming the extra and exit 2."""
        result = run(*command, "--help", env=without_fastapi)
        assert result.returncode == 0  # help needs no server
        result = run(*command, *(["--db", str(tmp_path / "t.db")] if command == ["serve"] else []),
                     env=without_fastapi)  # fmt: skip
        assert result.returncode == 2
        assert result.stderr.splitlines() == [
            f"tasklife {command[0]}: tasklife's server needs FastAPI, uvicorn and httpx "
            "(fastapi is missing): pip install 'tasklife[server]'"
        ]


FD_LIMIT = 128
FLOOD = 400
LIMITED_SERVE = (
    "import resource, sys\n"
    f"resource.setrlimit(resource.RLIMIT_NOFILE, ({FD_LIMIT}, {FD_LIMIT}))\n"
    "from tasklife.cli import main\n"
    "sys.exit(main(sys.argv[1:]))"
)


def abort(sock: socket.socket) -> None:
    """Close with a reset (RST), as a client that gives up does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def flood(port: int) -> None:
    """Garbage requests, requests abandoned mid-answer, and more connections than fds."""
    address = ("127.0.0.1", port)
    request = f"GET /api/v1/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n\r\n"
    for payload in (b"GARBAGE \x00\x01\r\n\r\n", request.encode()):
        for _ in range(FLOOD):
            sock = socket.create_connection(address, timeout=10)
            sock.sendall(payload)
            abort(sock)
    held = []
    for _ in range(FLOOD):
        try:
            held.append(socket.create_connection(address, timeout=2))
        except OSError:
            break
    for sock in held:
        abort(sock)


class TestServeUnderAFlood:
    def test_one_line_per_kind_of_event(
        self, tmp_path: Path, record_property: Callable[[str, object], None]
    ) -> None:
        """1,200 hostile connections (the server out of fds): no traceback per connection."""
        port = free_port()
        log = tmp_path / "serve.log"
        command = [sys.executable, "-c", LIMITED_SERVE, "serve", "--port", str(port),
                   "--db", str(tmp_path / "t.sqlite3"), "--step-seconds", "0"]  # fmt: skip
        env = {**os.environ, "TASKLIFE_API_KEY": KEY}
        with log.open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base_url, process)
            flood(port)
            wait_ready(base_url, process, timeout=60)  # it survived and answers again
        finally:
            process.send_signal(signal.SIGTERM)
            status = process.wait(timeout=30)
        text = log.read_text()
        events = [
            line
            for line in text.splitlines()
            if line[:1].isdigit() and " tasklife.server.access: " not in line
        ]
        assert "out of system resource" in text, "the flood did not exhaust the fds"
        assert text.count("Traceback") <= 2, text[-3000:]
        assert len(events) <= 40, "\n".join(events)
        continued = [line for line in text.splitlines() if not line[:1].isdigit()]
        assert len(continued) <= 60, "multi-line records beyond two tracebacks"
        assert status == 0
        held = sum(int(n) for n in re.findall(r": (\d+) more like this were not logged", text))
        record_property(
            "flood",
            {"connections": 3 * FLOOD, "fd limit": FD_LIMIT, "log lines": len(text.splitlines()),
             "warning lines": len(events), "tracebacks": text.count("Traceback"),
             "held back": held},
        )  # fmt: skip


class TestServeOnPostgres:
    """``tasklife serve --db`` with a PostgreSQL connection string, as a URL or key=value."""

    @pytest.mark.parametrize("form", ["url", "key-value"])
    def test_serves_and_stops(self, tmp_path: Path, postgres_server: str, form: str) -> None:
        """Run, pause, read back, SIGTERM: exit 0; the log names the database, no password."""
        dsn = postgres_server if form == "url" else conninfo.make_conninfo(postgres_server)
        schema = f"t_{uuid.uuid4().hex[:12]}"
        args = ("--db", dsn, "--db-schema", schema, "--pool-max", "3", "--db-timeout", "5")
        with serving(tmp_path, *args) as served:
            headers = {"Authorization": f"Bearer {KEY}"}
            with httpx.Client(base_url=served.base_url, headers=headers) as http:
                task_id = http.post("/api/v1/run-task", json={"task": "pg"}).json()["id"]
                assert (
                    http.put("/api/v1/pause-task", params={"task_id": task_id}).status_code == 200
                )
                assert http.get(f"/api/v1/task/{task_id}/status").json() == "paused"
            status, log = served.interrupt(signal.SIGTERM)
        assert status == 0, log
        name = conninfo.conninfo_to_dict(postgres_server)["dbname"]
        assert f"tasks in PostgreSQL database {name} on " in log
        with psycopg.connect(postgres_server) as db:
            found = db.execute(f'SELECT status FROM "{schema}".tasks WHERE id = %s', (task_id,))
            assert found.fetchall() == [("paused",)]

    def test_unreachable_database_is_one_line(self) -> None:
        """A database that does not answer: one line naming it, exit 1, never the password."""
        dsn = "postgresql://someone:s3cret-pw@127.0.0.1:1/nowhere"
        result = run("serve", "--api-key", KEY, "--db", dsn, "--db-timeout", "1",
                     env=dict(os.environ))  # fmt: skip
        assert result.returncode == 1
        [line] = result.stderr.splitlines()[-1:]
        assert line.startswith(
            "tasklife serve: cannot open the task store PostgreSQL database nowhere on 127.0.0.1: "
        )
        assert "s3cret-pw" not in result.stderr + result.stdout
        assert "Traceback" not in result.stderr

    @pytest.mark.parametrize(
        ("args", "says"),
        [(("--pool-min", "5", "--pool-max", "2"), "max_size"), (("--db-timeout", "0"), "timeout")],
        ids=["pool-sizes", "timeout"],
    )
    def test_options_out_of_range_exit_2(self, args: tuple[str, ...], says: str) -> None:
        """Pool sizes or a timeout out of range: one line naming the option, exit 2."""
        dsn = "postgresql://someone@127.0.0.1:1/nowhere"
        result = run("serve", "--api-key", KEY, "--db", dsn, *args, env=dict(os.environ))
        assert result.returncode == 2
        assert result.stderr.splitlines()[-1].startswith(f"tasklife serve: {says}: ")

    def test_help_documents_the_database_options(self) -> None:
        """``tasklife serve --help`` names PostgreSQL and every database option."""
        out = run("serve", "--help", env=dict(os.environ)).stdout
        for option in ("postgresql://", "key=value", "--db-timeout", "--pool-min", "--pool-max",
                       "--db-schema"):  # fmt: skip
            assert option in out
