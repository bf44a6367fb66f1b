"""Big answers do not stall other clients: pages, task views and histories are built, encoded
and sent off the event loop, a page in chunks, one page per key at a time.

The deterministic tests hold a page read (or an encoding) at a gate inside the server, and
check that the server keeps answering meanwhile: if that work ran on the event loop, nothing
else would be answered until the gate opened.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import tasklife.server.answers
from tasklife.server import BackgroundServer, create_app, key_fingerprint
from tasklife.server.answers import CHUNK_BYTES
from tasklife.service import TaskService
from tasklife.store import SQLiteTaskStore
from tasklife.v1 import TaskPage, page_to_json

KEY, OTHER = "big-answers-key", "big-answers-other"
GATE_SECONDS = 30.0  # how long a held read waits at most (the test opens it long before)
PING_SECONDS = 10.0  # a ping held up by work on the event loop waits for the gate, 30 s


class GatedStore:
    """A server's service whose page reads wait at a gate, counting who is inside."""

    def __init__(self, service: TaskService) -> None:
        self.read_page = service.page
        service.page = self.page  # type: ignore[method-assign]
        self.gate = threading.Event()
        self.entered = threading.Semaphore(0)
        self._lock = threading.Lock()
        self.inside: dict[str, int] = {}
        self.most_inside: dict[str, int] = {}

    def page(self, owner: str, page: int, limit: int) -> TaskPage:
        with self._lock:
            self.inside[owner] = self.inside.get(owner, 0) + 1
            self.most_inside[owner] = max(self.most_inside.get(owner, 0), self.inside[owner])
        self.entered.release()
        try:
            assert self.gate.wait(GATE_SECONDS)
            return self.read_page(owner, page, limit)
        finally:
            with self._lock:
                self.inside[owner] -= 1


@pytest.fixture
def gated(tmp_path: Path) -> Iterator[tuple[GatedStore, str]]:
    """A server whose page reads go through a ``GatedStore`` (open until a test closes it)."""
    store = SQLiteTaskStore(tmp_path / "tasks.sqlite3")
    try:
        app = create_app(store, [KEY, OTHER], step_seconds=0)
        gate = GatedStore(app.state.service)
        gate.gate.set()
        with BackgroundServer(app) as server:
            yield gate, server.base_url
            gate.gate.set()
    finally:
        store.close()


def client(base_url: str, key: str | None = KEY) -> httpx.Client:
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    return httpx.Client(base_url=base_url, headers=headers, timeout=GATE_SECONDS * 2)


class Background:
    """Each call in a thread of its own; ``join()`` waits for them and gives their answers."""

    def __init__(self, calls: list[Callable[[], httpx.Response]]) -> None:
        self.answers: list[Any] = [None] * len(calls)
        self.threads = [
            threading.Thread(target=self._run, args=(i, call)) for i, call in enumerate(calls)
        ]
        for thread in self.threads:
            thread.start()

    def _run(self, index: int, call: Callable[[], httpx.Response]) -> None:
        try:
            self.answers[index] = call()
        except BaseException as error:  # surfaced by join(), not lost in the thread
            self.answers[index] = error

    def running(self) -> bool:
        return any(thread.is_alive() for thread in self.threads)

    def join(self) -> list[Any]:
        for thread in self.threads:
            thread.join()
        return self.answers


def get(base_url: str, path: str, key: str = KEY, **params: Any) -> Callable[[], httpx.Response]:
    """A call that GETs ``path`` with ``key`` on a client of its own."""

    def call() -> httpx.Response:
        with client(base_url, key) as http:
            return http.get(path, params=params)

    return call


def list_tasks(base_url: str, key: str) -> Callable[[], httpx.Response]:
    return get(base_url, "/api/v1/tasks", key, limit=100)


class TestOffTheEventLoop:
    def test_ping_is_answered_while_pages_are_read(self, gated: tuple[GatedStore, str]) -> None:
        """Six page reads held inside the store: ping, a task view and a history still answer."""
        store, base_url = gated
        with client(base_url) as http:
            task_id = http.post("/api/v1/run-task", json={"task": "t"}).json()["id"]
            store.gate.clear()
            pages = Background([list_tasks(base_url, KEY) for _ in range(6)])
            assert store.entered.acquire(timeout=GATE_SECONDS)  # a page read is held
            assert http.get("/api/v1/ping", timeout=PING_SECONDS).status_code == 200
            assert http.get(f"/api/v1/task/{task_id}", timeout=PING_SECONDS).status_code == 200
            history = http.get(f"/emulator/v1/task/{task_id}/history", timeout=PING_SECONDS)
            assert history.status_code == 200
            store.gate.set()
            answers = pages.join()
        assert [a.status_code for a in answers] == [200] * 6
        assert all(a.json()["tasks"][0]["id"] == task_id for a in answers)

    def test_ping_is_answered_while_an_answer_is_encoded(
        self, gated: tuple[GatedStore, str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An encoding held at a gate (a task view's, a page's): ping still answers."""
        _, base_url = gated
        with client(base_url) as http:
            task_id = http.post("/api/v1/run-task", json={"task": "t"}).json()["id"]
            gate, entered = threading.Event(), threading.Semaphore(0)
            encode = tasklife.server.answers.encode

            def held(value: Any) -> bytes:
                if isinstance(value, dict) and "task" in value:  # a task view or a page's item
                    entered.release()
                    assert gate.wait(GATE_SECONDS)
                return encode(value)

            monkeypatch.setattr(tasklife.server.answers, "encode", held)
            held_up = Background(
                [get(base_url, f"/api/v1/task/{task_id}"), list_tasks(base_url, KEY)]
            )
            assert entered.acquire(timeout=GATE_SECONDS)
            assert entered.acquire(timeout=GATE_SECONDS)  # both encodings are held
            assert http.get("/api/v1/ping", timeout=PING_SECONDS).status_code == 200
            gate.set()
            assert [a.status_code for a in held_up.join()] == [200, 200]


class TestOnePagePerKey:
    def test_a_key_reads_one_page_at_a_time(self, gated: tuple[GatedStore, str]) -> None:
        """Three pages of one key and one of another: the other key is not kept waiting."""
        store, base_url = gated
        store.gate.clear()
        pages = Background(
            [list_tasks(base_url, KEY) for _ in range(3)] + [list_tasks(base_url, OTHER)]
        )
        assert store.entered.acquire(timeout=GATE_SECONDS)
        assert store.entered.acquire(timeout=GATE_SECONDS)  # one read of each key is inside
        store.gate.set()
        assert [a.status_code for a in pages.join()] == [200] * 4
        assert store.most_inside == {key_fingerprint(KEY): 1, key_fingerprint(OTHER): 1}


class TestPageAnswer:
    @pytest.mark.parametrize("size", [10, 40_000], ids=["small", "larger-than-a-chunk"])
    def test_the_page_is_the_v1_page(self, gated: tuple[GatedStore, str], size: int) -> None:
        """A page, streamed in chunks or not, is exactly the v1 page of the stored tasks."""
        store, base_url = gated
        with client(base_url) as http:
            for i in range(6):
                http.post("/api/v1/run-task", json={"task": f"{i}" + "é" * size})
            response = http.get("/api/v1/tasks", params={"page": 1, "limit": 5})
        assert response.json() == page_to_json(store.read_page(key_fingerprint(KEY), 1, 5))
        streamed = 6 * size * 2 > CHUNK_BYTES
        assert ("content-length" in response.headers) is not streamed


@pytest.mark.slow
class TestOneTenantCannotStallEveryone:
    def test_ping_while_six_pages_of_100_mib(self, gated: tuple[GatedStore, str]) -> None:
        """100 tasks of ~1 MiB, 6 concurrent pages of 100: no ping waits 2.5 s (it was 5.4 s)."""
        _, base_url = gated
        with client(base_url) as http:
            for i in range(100):
                text = f"{i:03d}" + "x" * 1_000_000
                assert http.post("/api/v1/run-task", json={"task": text}).status_code == 200
            pages = Background([list_tasks(base_url, KEY) for _ in range(6)])
            waits = []
            while pages.running():
                started = time.monotonic()
                assert http.get("/api/v1/ping").status_code == 200
                waits.append(time.monotonic() - started)
            answers = pages.join()
        assert [a.status_code for a in answers] == [200] * 6
        assert len(waits) > 1
        assert max(waits) < 2.5
