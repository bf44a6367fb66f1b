"""Many clients acting on one task at once: no 500s, no lost or invented transitions."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable, Sequence

from tasklife.server.testing import LiveServer

from .conftest import BOTH_DATABASES

ServerFactory = Callable[..., LiveServer]
THREADS = 20
ROUNDS = 15


def hammer(servers: Sequence[LiveServer], key: str, task_id: str) -> list[tuple[str, int]]:
    """THREADS clients alternate pause and resume on ``task_id``; every answer is returned."""
    answers: list[tuple[str, int]] = []
    lock = threading.Lock()
    go = threading.Barrier(THREADS)

    def client(number: int) -> None:
        server = servers[number % len(servers)]
        with server.client(key) as http:
            go.wait()
            for round_ in range(ROUNDS):
                action = "pause" if (number + round_) % 2 == 0 else "resume"
                response = http.put(f"/api/v1/{action}-task", params={"task_id": task_id})
                with lock:
                    answers.append((action, response.status_code))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def history(server: LiveServer, key: str, task_id: str) -> list[dict[str, object]]:
    with server.client(key) as http:
        body = http.get(f"/emulator/v1/task/{task_id}/history").json()
    records: list[dict[str, object]] = body["history"]
    return records


def create(server: LiveServer, key: str) -> str:
    with server.client(key) as http:
        task_id: str = http.post("/api/v1/run-task", json={"task": "contended"}).json()["id"]
    return task_id


class TestOneServerManyClients:
    def test_only_200_or_409(self, live_server: LiveServer, api_key: str) -> None:
        """Under contention every answer is 200 (applied) or 409 (refused), never a 500."""
        answers = hammer([live_server], api_key, create(live_server, api_key))
        assert len(answers) == THREADS * ROUNDS
        assert {status for _, status in answers} <= {200, 409}

    def test_every_200_is_one_history_record(self, live_server: LiveServer, api_key: str) -> None:
        """Each acknowledged pause or resume is exactly one record, and nothing else is."""
        task_id = create(live_server, api_key)
        answers = hammer([live_server], api_key, task_id)
        acknowledged = Counter(action for action, status in answers if status == 200)
        recorded = Counter(r["action"] for r in history(live_server, api_key, task_id)[1:])
        assert acknowledged == recorded
        assert acknowledged["pause"] > 0

    def test_versions_strictly_increase(self, live_server: LiveServer, api_key: str) -> None:
        """The records' seq run 1, 2, 3, ... with each record starting where the last ended."""
        task_id = create(live_server, api_key)
        hammer([live_server], api_key, task_id)
        records = history(live_server, api_key, task_id)
        assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
        assert all(a["dest"] == b["source"] for a, b in itertools.pairwise(records))


@BOTH_DATABASES
class TestTwoServersOneDatabase:
    def test_no_update_is_lost(self, server_factory: ServerFactory, api_key: str) -> None:
        """Two app instances on one database: the token check keeps every 200 recorded."""
        first, second = server_factory(), server_factory()
        task_id = create(first, api_key)
        answers = hammer([first, second], api_key, task_id)
        assert {status for _, status in answers} <= {200, 409}
        acknowledged = Counter(action for action, status in answers if status == 200)
        recorded = Counter(r["action"] for r in history(second, api_key, task_id)[1:])
        assert acknowledged == recorded

    def test_steps_are_not_lost(self, server_factory: ServerFactory, api_key: str) -> None:
        """Steps taken through both instances all count, because every save moves the token."""
        first, second = server_factory(), server_factory()
        task_id = create(first, api_key)
        done = Counter[int]()
        lock = threading.Lock()

        def advance(server: LiveServer) -> None:
            with server.client(api_key) as http:
                for _ in range(20):
                    response = http.post(f"/emulator/v1/task/{task_id}/advance")
                    with lock:
                        done[response.status_code] += 1

        threads = [threading.Thread(target=advance, args=(s,)) for s in (first, second) * 3]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with first.client(api_key) as http:
            steps = len(http.get(f"/api/v1/task/{task_id}").json()["steps"])
        assert set(done) <= {200, 409}
        assert steps == done[200]
