"""Secret hygiene and tenancy: the API key never leaks, another key's task does not exist.

Also checks, by reading the code, that keys are compared in constant time and that no SQL in
``tasklife/store`` is built from runtime values by string formatting.
"""

from __future__ import annotations

import ast
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import tasklife.server.middleware
import tasklife.store
from tasklife import InvalidArgument
from tasklife.server.app import create_app
from tasklife.server.testing import LiveServer
from tasklife.store import SQLiteTaskStore

SECRET = "tl-secret-5b9e0c7d2a41"
OTHER = "tl-tenant-b-77e1f0"
STORE_DIR = Path(tasklife.store.__file__).parent
SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|PRAGMA|WHERE)\b", re.I)
CONSTANT = re.compile(r"^_?[A-Z][A-Z0-9_]*$")


@pytest.fixture
def logged_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server with its access log on, accepting SECRET and OTHER."""
    with LiveServer.start(
        tmp_path / "tasks.sqlite3", api_keys=[SECRET, OTHER], access_log=True, max_body_bytes=1024
    ) as server:
        yield server


def exercise(server: LiveServer) -> list[httpx.Response]:
    """Every kind of answer the server gives: 200, 401, 404, 409, 413, 422."""
    answers = []
    with server.client(SECRET) as http:
        task_id = http.post("/api/v1/run-task", json={"task": "secret work"}).json()["id"]
        answers += [
            http.put("/api/v1/pause-task", params={"task_id": task_id}),
            http.put("/api/v1/pause-task", params={"task_id": task_id}),
            http.put("/api/v1/pause-task", params={"task_id": "task_nope"}),
            http.put("/api/v1/pause-task", params={"task_id": "a b"}),
            http.post("/api/v1/run-task", content=b"x" * 4096),
            http.get(f"/api/v1/task/{task_id}"),
            http.get("/api/v1/tasks"),
        ]
    for header in (f"Bearer {SECRET}x", f"Basic {SECRET}", SECRET, f"bearer  {SECRET[:-1]}"):
        answers.append(
            httpx.get(f"{server.base_url}/api/v1/tasks", headers={"Authorization": header})
        )
    return answers


class TestSecretHygiene:
    def test_key_not_in_logs_or_output(
        self,
        logged_server: LiveServer,
        caplog: pytest.LogCaptureFixture,
        capfd: pytest.CaptureFixture[str],
    ) -> None:
        """No log record, stdout/stderr line or response carries the key (or its near misses)."""
        caplog.set_level(logging.DEBUG)
        answers = exercise(logged_server)
        out, err = capfd.readouterr()
        assert {a.status_code for a in answers} >= {200, 401, 404, 409, 413, 422}
        assert caplog.records, "the access log is on: records were expected"
        for text in [caplog.text, out, err, *(a.text for a in answers)]:
            assert SECRET not in text
            assert SECRET[:-1] not in text
        for answer in answers:
            assert SECRET not in str(answer.headers)

    def test_key_not_in_database_file(self, logged_server: LiveServer) -> None:
        """The store keeps a fingerprint of the key as the owner, never the key."""
        exercise(logged_server)
        logged_server.stop()
        assert isinstance(logged_server.db, Path)  # a SQLite file
        for path in logged_server.db.parent.iterdir():
            assert SECRET.encode() not in path.read_bytes(), path.name

    @pytest.mark.parametrize(
        "what",
        [
            "app",
            "store",
            "state",
            "middleware",
        ],
    )
    def test_key_not_in_reprs(self, tmp_path: Path, what: str) -> None:
        """The app, its state, its middleware list and the store do not show the key."""
        store = SQLiteTaskStore(tmp_path / "t.sqlite3")
        try:
            app = create_app(store, [SECRET], step_seconds=0)
            shown = {
                "app": repr(app),
                "store": repr(store),
                "state": repr(vars(app.state)),
                "middleware": repr(app.user_middleware),
            }
            assert SECRET not in shown[what]
        finally:
            store.close()


class TestTenancy:
    @pytest.mark.parametrize(
        ("method", "url"),
        [
            ("PUT", "/api/v1/pause-task?task_id={}"),
            ("PUT", "/api/v1/resume-task?task_id={}"),
            ("PUT", "/api/v1/stop-task?task_id={}"),
            ("GET", "/api/v1/task/{}"),
            ("GET", "/api/v1/task/{}/status"),
            ("POST", "/emulator/v1/task/{}/advance"),
            ("POST", "/emulator/v1/task/{}/finish"),
            ("POST", "/emulator/v1/task/{}/fail"),
            ("GET", "/emulator/v1/task/{}/history"),
        ],
        ids=["pause", "resume", "stop", "get", "status", "advance", "finish", "fail", "history"],
    )
    def test_other_keys_task_is_404(self, logged_server: LiveServer, method: str, url: str) -> None:
        """Another key's task answers 404 exactly like a missing one, and is not changed."""
        with logged_server.client(SECRET) as mine, logged_server.client(OTHER) as theirs:
            task_id = mine.post("/api/v1/run-task", json={"task": "mine"}).json()["id"]
            before = mine.get(f"/emulator/v1/task/{task_id}/history").json()
            response = theirs.request(method, url.format(task_id))
            missing = theirs.request(method, url.format("task_missing"))
            assert (response.status_code, response.json()) == (404, missing.json())
            assert mine.get(f"/emulator/v1/task/{task_id}/history").json() == before
            assert theirs.get("/api/v1/tasks").json()["total_count"] == 0

    @pytest.mark.parametrize(
        "keys",
        [[], [""], ["   "], [SECRET, ""], "", [None], f" {SECRET}", [OTHER, f"{SECRET}\n"],
         f"\t{SECRET}", f"{SECRET}\x00", f"{SECRET}é"],
        ids=["none", "empty", "blank", "one-empty", "str-empty", "null", "leading-space",
             "trailing-newline", "leading-tab", "nul", "non-ascii"],
    )  # fmt: skip
    def test_app_refuses_a_key_no_client_can_send(self, tmp_path: Path, keys: object) -> None:
        """create_app refuses no key, or a key that is empty, has whitespace around it or holds
        a control or non-ASCII character (tasklife serve exits 2); the message hides the key."""
        store = SQLiteTaskStore(tmp_path / "t.sqlite3")
        try:
            with pytest.raises(InvalidArgument) as info:
                create_app(store, keys, step_seconds=0)  # type: ignore[arg-type]
            assert info.value.argument == "api_keys"
            assert SECRET not in str(info.value)
        finally:
            store.close()


class TestCodeChecks:
    def test_keys_compared_in_constant_time(self) -> None:
        """The guard compares keys with hmac.compare_digest and never with == or in."""
        source = Path(tasklife.server.middleware.__file__).read_text()
        tree = ast.parse(source)
        calls = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "hmac.compare_digest"
        ]
        assert calls
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare):
                names = ast.unparse(node).lower()
                assert not re.search(r"\b(token|key)\b", names), ast.unparse(node)

    @pytest.mark.parametrize("path", sorted(STORE_DIR.glob("*.py")), ids=lambda p: p.name)
    def test_no_sql_built_by_formatting(self, path: Path) -> None:
        """SQL is constant: f-strings interpolate only module constants; no % or .format."""
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                text = "".join(
                    v.value
                    for v in node.values
                    if isinstance(v, ast.Constant) and isinstance(v.value, str)
                )
                if SQL.search(text):
                    for value in node.values:
                        if isinstance(value, ast.FormattedValue):
                            inner = ast.unparse(value.value)
                            assert CONSTANT.match(inner), f"{path.name}:{node.lineno}: {inner}"
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
                sides = (node.left, node.right)
                if any(isinstance(x, ast.Constant) and SQL.search(str(x.value)) for x in sides):
                    assert isinstance(node.op, ast.Add), f"{path.name}:{node.lineno}: % on SQL"
                    for side in sides:  # + only joins constants
                        ok = isinstance(side, ast.Constant) or CONSTANT.match(ast.unparse(side))
                        assert ok, f"{path.name}:{node.lineno}: {ast.unparse(side)}"
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "format"
                and isinstance(node.func.value, ast.Constant)
            ):
                assert not SQL.search(str(node.func.value.value)), f"{path.name}:{node.lineno}"
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"execute", "executemany", "executescript"}
                and node.args
            ):
                query = node.args[0]
                # statement.sql: the text of a tasklife.store.plan Statement, which Sql.text
                # builds from this package's constants and validated table names only.
                planned = ast.unparse(query) == "statement.sql"
                allowed = planned or isinstance(query, ast.Constant | ast.Name | ast.JoinedStr)
                assert allowed, f"{path.name}:{node.lineno}: {ast.unparse(query)}"
