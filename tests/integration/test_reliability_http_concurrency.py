"""50 HTTP clients issuing conflicting actions on the same tasks of one server.

Every client starts at once (a ``Barrier``) and sends random pause/resume/stop requests and
reads at 10 shared tasks. Afterwards: no 500 was answered, every history in the store chains
from ``created`` through legal transitions, and every 200 for pause/resume is exactly one
record (no acknowledged transition lost, none applied twice).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

from tasklife import LIFECYCLE, Action, TaskStatus
from tasklife.server.testing import LiveServer

CLIENTS = 50
REQUESTS = 40
TASKS = 10
ACTIONS = ["pause"] * 10 + ["resume"] * 10 + ["stop"] + ["read"] * 3


def hammer(
    server: LiveServer, key: str, task_ids: list[str], seed: int, barrier: threading.Barrier
) -> list[tuple[str, str, int]]:
    """One client's requests: (task id, action, status code) for each."""
    rng = random.Random(seed)
    answered: list[tuple[str, str, int]] = []
    with server.client(key, timeout=30) as http:
        barrier.wait()
        for _ in range(REQUESTS):
            task_id = rng.choice(task_ids)
            action = rng.choice(ACTIONS)
            if action == "read":
                response = http.get(f"/api/v1/task/{task_id}/status")
            else:
                response = http.put(f"/api/v1/{action}-task", params={"task_id": task_id})
            answered.append((task_id, action, response.status_code))
    return answered


def history(http: httpx.Client, task_id: str) -> dict[str, Any]:
    response = http.get(f"/emulator/v1/task/{task_id}/history")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def check_chain(body: dict[str, Any]) -> None:
    """Records numbered 1..n, each legal from the previous record's dest, ending at status."""
    current = TaskStatus.CREATED
    for seq, record in enumerate(body["history"], 1):
        assert (record["seq"], record["source"]) == (seq, current.value)
        dest = LIFECYCLE.target(current, Action(record["action"]))
        assert dest is not None
        assert record["dest"] == dest.value
        current = dest
    assert body["status"] == current.value
    assert body["version"] == len(body["history"])


class TestConcurrentClients:
    def test_every_200_is_one_record(
        self,
        live_server: LiveServer,
        api_key: str,
        record_property: Callable[[str, object], None],
    ) -> None:
        """50 clients x 40 conflicting requests: no 500, complete histories, 200s == records."""
        with live_server.client(api_key) as http:
            task_ids = [
                http.post("/api/v1/run-task", json={"task": f"c{i}"}).json()["id"]
                for i in range(TASKS)
            ]
        barrier = threading.Barrier(CLIENTS)
        results: list[list[tuple[str, str, int]]] = [[] for _ in range(CLIENTS)]
        errors: list[BaseException] = []

        def run(index: int) -> None:
            try:
                results[index] = hammer(live_server, api_key, task_ids, index, barrier)
            except BaseException as error:  # surfaced below, not lost in the thread
                errors.append(error)
                barrier.abort()

        threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        answered = [item for result in results for item in result]
        assert len(answered) == CLIENTS * REQUESTS
        codes = Counter(code for _, _, code in answered)
        assert set(codes) <= {200, 409}, codes
        ok = Counter((task_id, action) for task_id, action, code in answered if code == 200)
        records = 0
        with live_server.client(api_key) as http:
            for task_id in task_ids:
                body = history(http, task_id)
                records += body["version"]
                check_chain(body)
                recorded = Counter(r["action"] for r in body["history"])
                assert recorded["pause"] == ok[task_id, "pause"]
                assert recorded["resume"] == ok[task_id, "resume"]
                assert recorded["stop"] <= 1
                assert recorded["stop"] <= ok[task_id, "stop"]
        assert codes[200] > CLIENTS  # the run really applied transitions, not only refusals
        acked = sum(n for (_, action), n in ok.items() if action in {"pause", "resume"})
        record_property(
            "http concurrency",
            {"requests": len(answered), "codes": {str(c): n for c, n in sorted(codes.items())},
             "pause/resume 200s": acked, "records": records, "start records": TASKS},
        )  # fmt: skip
