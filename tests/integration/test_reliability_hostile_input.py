"""Hostile input: task ids, oversized bodies, unencodable strings. A clear 4xx or
InvalidTaskData, never a 500, never a changed task."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from service_kit import seed

from tasklife import InvalidTaskData, Task
from tasklife.server import key_fingerprint
from tasklife.server.testing import LiveServer
from tasklife.service import TaskService
from tasklife.store import SQLiteTaskStore

from .conftest import Operation

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


ID_ROUTES = 9  # pause, resume, stop; task, status; advance, finish, fail, history


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


# Any id at all on the wire: a catalogued hostile one, or any characters (surrogates, slashes,
# dots, percent signs and NULs included), percent-encoded as a client would send them.
WIRE_ID = st.sampled_from(WIRE_IDS).map(encoded) | st.lists(
    st.characters(exclude_categories=()) | st.sampled_from("\ud800/.%?#&= \x00"), max_size=12
).map(lambda chars: quote("".join(chars).encode("utf-8", "surrogatepass"), safe=""))


def id_routes(operations: list[Operation]) -> list[tuple[str, str]]:
    """(method, URL with ``{}`` for the id) of every operation that takes a task id."""
    return [
        (method, path.replace("{task_id}", "{}") if where == "path" else f"{path}?task_id={{}}")
        for method, path, where in operations
        if where is not None
    ]


class TestHostileIds:
    def test_every_route_with_an_id_guards_it(
        self, http: httpx.Client, victim: str, operations: list[Operation]
    ) -> None:
        """Every operation taking a task id: a malformed id is 422 at its place, an unknown 404."""
        routes = [(m, p, w) for m, p, w in operations if w is not None]
        assert len(routes) == ID_ROUTES
        before = snapshot(http, victim)
        for method, url in id_routes(operations):
            where = "query" if "?" in url else "path"
            malformed = http.request(method, url.format("a%20b"))
            assert malformed.status_code == 422, (method, url)
            assert malformed.json()["detail"][0]["loc"] == [where, "task_id"]
            unknown = http.request(method, url.format("task_unknown"))
            assert (unknown.status_code, unknown.json()) == (404, {"detail": "Task not found"})
        assert snapshot(http, victim) == before

    def test_any_id_is_404_or_422(
        self, http: httpx.Client, victim: str, operations: list[Operation]
    ) -> None:
        """Any id on any route that takes one (every catalogued hostile id, then generated
        ones): 404 or 422, never a 5xx or a redirect; the victim task is unchanged."""
        before = snapshot(http, victim)
        routes = id_routes(operations)

        def guarded(wire_id: str, route: tuple[str, str]) -> None:
            method, url = route
            response = http.request(method, url.format(wire_id))
            assert response.status_code in (404, 422), (url.format(wire_id), response.text)
            assert isinstance(response.json()["detail"], str | list)

        for name in WIRE_IDS:
            for route in routes:
                guarded(encoded(name), route)
        given(wire_id=WIRE_ID, route=st.sampled_from(routes))(
            settings(max_examples=150, deadline=None)(guarded)
        )()
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
        store = SQLiteTaskStore(tmp_path / "t.sqlite3")
        try:
            task = Task(HOSTILE_IDS[name])
            task.start()
            seed(store, "o", task)
            seed(store, "o", Task("bystander"))
            service = TaskService(store)
            assert service.read("o", HOSTILE_IDS[name], lambda found: found.task) == task
            assert service.read("o", "bystander", lambda found: found.id) == "bystander"
            assert service.page("o", 1, 10).total_count == 2
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


UNENCODABLE = {
    "task": {"task": "a\ud800b"},
    "llm_model": {"task": "t", "llm_model": "\udfff"},
    "metadata-value": {"task": "t", "metadata": {"order": "\ud800"}},
    "metadata-key": {"task": "t", "metadata": {"\udc00": "v"}},
    "secrets-value": {"task": "t", "secrets": {"user": "\ud800"}},
    "allowed-domain": {"task": "t", "allowed_domains": ["example.com", "\ud800"]},
}
# Any character at all, lone surrogates and NUL included, in any string of the body (built from
# a list: st.text() never draws a surrogate).
ANY_TEXT = st.lists(
    st.characters(exclude_categories=()) | st.sampled_from("\ud800\udfff\x00"), max_size=8
).map("".join)
RUN_TASK_BODIES = st.fixed_dictionaries(
    {"task": st.text(min_size=1) | ANY_TEXT},
    optional={
        "llm_model": ANY_TEXT,
        "max_agent_steps": st.integers(-5, 205),
        "metadata": st.dictionaries(ANY_TEXT, ANY_TEXT, max_size=12),
        "secrets": st.dictionaries(ANY_TEXT, ANY_TEXT, max_size=3),
        "allowed_domains": st.lists(ANY_TEXT, max_size=3),
        "extra": ANY_TEXT,
    },
)


def raw_json(body: object) -> bytes:
    """``body`` as JSON text; a lone surrogate goes on the wire as its ``\\ud800`` escape."""
    return json.dumps(body).encode("ascii")


def readable(http: httpx.Client, task_id: str) -> dict[str, Any]:
    """The task's view, after checking its view, history and the task list all answer 200."""
    for url in (f"/emulator/v1/task/{task_id}/history", "/api/v1/tasks?limit=100"):
        assert http.get(url).status_code == 200
    response = http.get(f"/api/v1/task/{task_id}")
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


class TestUnencodableStrings:
    @pytest.mark.parametrize("body", UNENCODABLE.values(), ids=UNENCODABLE.keys())
    def test_refused_with_a_422(self, http: httpx.Client, victim: str, body: object) -> None:
        """A string UTF-8 cannot encode, in any field of run-task, is a 422 and stores nothing."""
        before = snapshot(http, victim)
        response = http.post(
            "/api/v1/run-task", content=raw_json(body), headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, response.text
        [error] = response.json()["detail"]
        assert error["type"] == "value_error.string_unicode"
        assert snapshot(http, victim) == before

    def test_no_body_makes_a_task_that_answers_500(self, tmp_path: Path) -> None:
        """Any run-task body is 200 or 422; a new task reads back exactly, after a restart too."""
        db = tmp_path / "tasks.sqlite3"
        created: dict[str, dict[str, Any]] = {}
        with LiveServer.start(db, api_keys=["k"]) as server, server.client("k") as http:

            @given(body=RUN_TASK_BODIES)
            @settings(max_examples=60, deadline=None)
            def any_body(body: dict[str, Any]) -> None:
                response = http.post(
                    "/api/v1/run-task",
                    content=raw_json(body),
                    headers={"Content-Type": "application/json"},
                )
                assert response.status_code in (200, 422), response.text
                if response.status_code == 200:
                    task_id = response.json()["id"]
                    created[task_id] = body
                    view = readable(http, task_id)
                    assert view["task"] == body["task"]
                    assert view["metadata"] == body.get("metadata", {})
                    assert view["llm_model"] == body.get("llm_model", "gpt-4o")

            any_body()
        assert created, "the strategy produced no valid body at all"
        with LiveServer.start(db, api_keys=["k"]) as server, server.client("k") as http:
            for task_id, body in created.items():
                assert readable(http, task_id)["task"] == body["task"]

    def test_a_task_stored_before_the_fix_still_answers(self, tmp_path: Path) -> None:
        """A lone surrogate an earlier release stored (in metadata) reads back, never a 500."""
        db = tmp_path / "tasks.sqlite3"
        with SQLiteTaskStore(db) as store:
            task = Task("task_old")
            task.start()
            seed(store, key_fingerprint("k"), task, metadata={"k": "a\ud800b"})
        with LiveServer.start(db, api_keys=["k"]) as server, server.client("k") as http:
            assert readable(http, "task_old")["metadata"] == {"k": "a\ud800b"}
