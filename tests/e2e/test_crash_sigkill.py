"""Crash safety: SIGKILL ``tasklife serve`` under load, restart it on the same SQLite file.

Eight clients pause and resume tasks as fast as the server answers. Once enough transitions
have been acknowledged, the server is killed with SIGKILL (no shutdown code runs) while
requests are still in flight, and restarted on the same file. Then: ``PRAGMA
integrity_check`` is ok, every task whose creation was acknowledged exists, and every
transition acknowledged with 200 is in its history (a request in flight at the kill may
or may not have been applied; nothing else may differ).

Default: 2 kill/restart cycles. ``--run-slow``: 20 more.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import httpx
import pytest
from serve_kit import ServeProcess

KEY = "crash-test-key-1e7a"
CLIENTS = 8
TASKS = 12
ACKED_BEFORE_KILL = 200


class Server(ServeProcess):
    """A ``tasklife serve`` process on a SQLite file, in manual mode."""

    @property
    def db(self) -> Path:
        return Path(self.args[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    db = tmp_path / "tasks.sqlite3"
    served = Server(KEY, ("--db", str(db), "--step-seconds", "0"), tmp_path / "serve.log")
    served.start()
    yield served
    served.stop()


@attrs.define
class Load:
    """Acknowledged (task id, action) pairs, the clients' threads and the stop signal."""

    acked: list[tuple[str, str]] = attrs.Factory(list)
    enough: threading.Event = attrs.Factory(threading.Event)
    done: threading.Event = attrs.Factory(threading.Event)
    lock: threading.Lock = attrs.Factory(threading.Lock)
    errors: list[BaseException] = attrs.Factory(list)


def client(base_url: str, task_ids: list[str], index: int, load: Load) -> None:
    """Run ``pause_resume``; an unexpected error is kept for the test, not lost in the thread."""
    try:
        pause_resume(base_url, task_ids, index, load)
    except BaseException as error:
        load.errors.append(error)
        load.enough.set()


def pause_resume(base_url: str, task_ids: list[str], index: int, load: Load) -> None:
    """Alternate pause/resume on this client's tasks until the server dies or load is done."""
    headers = {"Authorization": f"Bearer {KEY}"}
    mine = task_ids[index::CLIENTS] or task_ids
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as http:
        turn = 0
        while not load.done.is_set():
            task_id = mine[turn % len(mine)]
            turn += 1
            for action in ("pause", "resume"):
                try:
                    response = http.put(f"/api/v1/{action}-task", params={"task_id": task_id})
                except httpx.TransportError:
                    return  # the server was killed
                if response.status_code == 200:
                    with load.lock:
                        load.acked.append((task_id, action))
                        if len(load.acked) >= ACKED_BEFORE_KILL:
                            load.enough.set()
                else:
                    assert response.status_code == 409, response.text


def kill_under_load(server: Server, task_ids: list[str]) -> list[tuple[str, str]]:
    """Run the clients, SIGKILL the server mid-load, return what was acknowledged."""
    load = Load()
    threads = [
        threading.Thread(target=client, args=(server.base_url, task_ids, i, load))
        for i in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    assert load.enough.wait(60), "the load never reached the kill threshold"
    server.kill()  # clients are still sending
    load.done.set()
    for thread in threads:
        thread.join(timeout=30)
    assert load.errors == []
    return list(load.acked)


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as connection:
        result: str = connection.execute("PRAGMA integrity_check").fetchone()[0]
    return result


def check_after_restart(
    server: Server, task_ids: list[str], acked: list[tuple[str, str]]
) -> dict[str, int]:
    """Every acknowledged transition is in the store; at most one per client extra."""
    wanted = Counter(acked)
    headers = {"Authorization": f"Bearer {KEY}"}
    extra = 0
    with httpx.Client(base_url=server.base_url, headers=headers) as http:
        for task_id in task_ids:
            response = http.get(f"/emulator/v1/task/{task_id}/history")
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["version"] == len(body["history"])
            found = Counter((task_id, r["action"]) for r in body["history"])
            for action in ("pause", "resume"):
                assert found[task_id, action] >= wanted[task_id, action], "a 200 was lost"
                extra += found[task_id, action] - wanted[task_id, action]
    assert extra <= CLIENTS, "more records than acknowledged + in flight"
    return {"acknowledged": len(acked), "lost": 0, "in_flight_applied": extra}


def crash_cycles(server: Server, cycles: int) -> list[dict[str, int]]:
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=server.base_url, headers=headers) as http:
        task_ids = [
            http.post("/api/v1/run-task", json={"task": f"crash {i}"}).json()["id"]
            for i in range(TASKS)
        ]
    all_acked: list[tuple[str, str]] = []
    figures = []
    for _ in range(cycles):
        all_acked += kill_under_load(server, task_ids)
        assert integrity(server.db) == "ok"
        server.start()
        figures.append(check_after_restart(server, task_ids, all_acked))
    assert integrity(server.db) == "ok"
    return figures


class TestCrash:
    def test_sigkill_loses_no_acknowledged_transition(
        self, server: Server, record_property: Callable[[str, object], None]
    ) -> None:
        """Two SIGKILLs under load: every 200 is in the store, the file passes integrity_check."""
        figures = crash_cycles(server, cycles=2)
        record_property("crash cycles", figures)
        assert all(f["acknowledged"] >= ACKED_BEFORE_KILL for f in figures)

    @pytest.mark.slow
    def test_twenty_sigkills(
        self, server: Server, record_property: Callable[[str, object], None]
    ) -> None:
        """Twenty SIGKILLs under load in a row: still nothing acknowledged is lost."""
        figures = crash_cycles(server, cycles=20)
        record_property("crash cycles", figures)
        assert figures[-1]["acknowledged"] >= 20 * ACKED_BEFORE_KILL
