"""Hostile input: task ids, oversized bodies. A clear 4xx or InvalidTaskData, never a 500,
never a changed task."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tasklife import InvalidTaskData, Task
from tasklife.server.testing import LiveServer
from tasklife.store import SQLiteEmulatorStore, StoredTask

HOSTILE_IDS = {
    "empty": "",
    "10k-chars": "x" * 10_000,
    "257-chars": "t" * 257,
    "unicode": "tâche_☃_\U0001d518_任务",
    "rtl-override": "task\u202e",
    "zero-width": "task\u200b",
    "bell": "a\x07b",
    "newline": "a\nb",
    "tab": "a\tb",
    "space": "a b",
    "nul": "a\x00b",
    "lone-surrogate": "a\ud800b",
    "dotdot": "../",
    "dotdot-passwd": "../../etc/passwd",
    "backslashes": "..\\..\\x",
    "query": "?&=",
    "query-pair": "a?b=c&d=e",
    "hash": "a#b",
    "percent": "%00%2e%2e%2f",
    "slash": "a/b",
    "sql-quote": "x'--",
    "sql-drop": "x';DROP TABLE tasks;--",
    "sql-drop-nospace": "x');DROP/**/TABLE/**/tasks;--",
    "sql-or": "' OR '1'='1",
    "sql-union": "x'/**/UNION/**/SELECT/**/*/**/FROM/**/tasks--",
    "like-wildcard": "%",
}

# Sent as they are, already percent-encoded: bytes that are no UTF-8 at all.
RAW_ENCODED = {"invalid-utf8": "%FF%FE", "overlong-slash": "%C0%AF", "encoded-nul": "%2500"}
WIRE_IDS = [*HOSTILE_IDS, *RAW_ENCODED]


def encoded(name: str) -> str:
    """The id named ``name`` percent-encoded for a URL (a lone surrogate as its UTF-8 bytes)."""
    if name in RAW_ENCODED:
        return RAW_ENCODED[name]
    return quote(HOSTILE_IDS[name].encode("utf-8", "surrogatepass"), safe="")


QUERY_ENDPOINTS = ["pause", "resume", "stop"]
PATH_ENDPOINTS = [
    ("GET", "/api/v1/task/{}"),
    ("GET", "/api/v1/task/{}/status"),
    ("POST", "/emulator/v1/task/{}/advance"),
    ("POST", "/emulator/v1/task/{}/finish"),
    ("POST", "/emulator/v1/task/{}/fail"),
    ("GET", "/emulator/v1/task/{}/history"),
]


def snapshot(http: httpx.Client, task_id: str) -> tuple[Any, int]:
    """The victim task's full history and the number of tasks the key sees."""
    history = http.get(f"/emulator/v1/task/{task_id}/history").json()
    total = http.get("/api/v1/tasks").json()["total_count"]
    return history, total


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the whole module (each test only reads its victim task back)."""
    db = tmp_path_factory.mktemp("hostile") / "tasks.sqlite3"
    with LiveServer.start(db, api_keys=["hostile-key"], max_body_bytes=64 * 1024) as server:
        yield server


@pytest.fixture
def http(hostile_server: LiveServer) -> Iterator[httpx.Client]:
    with hostile_server.client("hostile-key") as client:
        yield client


@pytest.fixture
def victim(http: httpx.Client) -> str:
    """A running task, paused once, that no hostile request may change."""
    task_id: str = http.post("/api/v1/run-task", json={"task": "victim"}).json()["id"]
    assert http.put("/api/v1/pause-task", params={"task_id": task_id}).status_code == 200
    return task_id


class TestHostileIds:
    @pytest.mark.parametrize("name", WIRE_IDS, ids=WIRE_IDS)
    @pytest.mark.parametrize("action", QUERY_ENDPOINTS)
    def test_query_id(self, http: httpx.Client, victim: str, action: str, name: str) -> None:
        """A hostile ?task_id= on pause/resume/stop is 404 or 422, and no task changes."""
        before = snapshot(http, victim)
        response = http.put(f"/api/v1/{action}-task?task_id={encoded(name)}")
        assert response.status_code in (404, 422), response.text
        assert isinstance(response.json()["detail"], str | list)
        assert snapshot(http, victim) == before

    @pytest.mark.parametrize("name", WIRE_IDS, ids=WIRE_IDS)
    @pytest.mark.parametrize(("method", "path"), PATH_ENDPOINTS, ids=[p for _, p in PATH_ENDPOINTS])
    def test_path_id(
        self, http: httpx.Client, victim: str, method: str, path: str, name: str
    ) -> None:
        """A hostile id in the path is a 4xx at once, and no task changes."""
        before = snapshot(http, victim)
        url = path.format(encoded(name))
        response = http.request(method, url)
        assert 400 <= response.status_code < 500, (response.status_code, response.text)
        assert snapshot(http, victim) == before

    @pytest.mark.parametrize("name", list(HOSTILE_IDS), ids=list(HOSTILE_IDS))
    def test_domain_refuses_or_accepts_cleanly(self, name: str) -> None:
        """Task(id) either raises InvalidTaskData naming 'id' or holds exactly that id."""
        value = HOSTILE_IDS[name]
        valid = 0 < len(value) <= 256 and value.isprintable() and " " not in value
        if valid:
            assert Task(value).to_dict()["id"] == value
        else:
            with pytest.raises(InvalidTaskData) as info:
                Task(value)
            assert info.value.field == "id"

    @pytest.mark.parametrize(
        "name",
        [
            n
            for n, v in HOSTILE_IDS.items()
            if 0 < len(v) <= 256 and v.isprintable() and " " not in v
        ],
    )
    def test_store_keeps_sql_looking_ids_as_data(self, tmp_path: Path, name: str) -> None:
        """An id that looks like SQL or a path is stored and read back verbatim, nothing else."""
        store = SQLiteEmulatorStore(tmp_path / "t.sqlite3")
        try:
            task = Task(HOSTILE_IDS[name])
            task.start()
            store.add(StoredTask(task, owner="o", text="t"))
            store.add(StoredTask(Task("bystander"), owner="o", text="t"))
            found = store.get(HOSTILE_IDS[name], "o")
            assert found is not None
            assert found.task == task
            assert store.get("bystander", "o") is not None
            assert store.page("o", 1, 10).total == 2
        finally:
            store.close()
        with sqlite3.connect(tmp_path / "t.sqlite3") as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


class TestOversizedBodies:
    @pytest.mark.parametrize(
        "size", [64 * 1024 + 1, 1024 * 1024, 8 * 1024 * 1024], ids=["limit+1", "1MiB", "8MiB"]
    )
    def test_run_task_body_refused(self, http: httpx.Client, victim: str, size: int) -> None:
        """A run-task body over the limit is 413 and creates no task."""
        before = snapshot(http, victim)
        body = b'{"task": "' + b"x" * size + b'"}'
        response = http.post(
            "/api/v1/run-task", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413
        assert snapshot(http, victim) == before

    def test_chunked_body_refused(self, http: httpx.Client, victim: str) -> None:
        """A body without Content-Length (chunked) is counted as it arrives and refused."""
        before = snapshot(http, victim)

        def chunks() -> Iterator[bytes]:
            yield b'{"task": "'
            for _ in range(100):
                yield b"x" * 4096
            yield b'"}'

        response = http.post(
            "/api/v1/run-task", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413
        assert snapshot(http, victim) == before

    def test_body_on_an_action_refused(self, http: httpx.Client, victim: str) -> None:
        """A large body sent with pause-task is refused, and the task is unchanged."""
        before = snapshot(http, victim)
        response = http.put(
            "/api/v1/resume-task", params={"task_id": victim}, content=b"x" * (128 * 1024)
        )
        assert response.status_code == 413
        assert snapshot(http, victim) == before

    @pytest.mark.parametrize(
        "body",
        [b"{", b"[]", b"null", b'{"task": 5}', b'{"task": "x", "max_agent_steps": -1}',
         b'{"task": "x", "metadata": {"a": 1}}', b"\xff\xfe", b'{"task": "\\ud800"}'],
        ids=["truncated", "list", "null", "int-task", "negative-steps", "int-metadata",
             "not-utf8", "lone-surrogate"],
    )  # fmt: skip
    def test_malformed_run_task_body(self, http: httpx.Client, victim: str, body: bytes) -> None:
        """A malformed run-task body is 422 (never 500) and creates no task."""
        before = snapshot(http, victim)
        response = http.post(
            "/api/v1/run-task", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, response.text
        assert snapshot(http, victim) == before
