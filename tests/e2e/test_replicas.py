"""Replicas: three ``tasklife serve`` processes on one database act as one service.

On one SQLite file and on one PostgreSQL database (a schema of the run's database):

- 24 clients pause and resume 12 shared tasks, each client sending its requests to the three
  replicas in turn, while the replicas tick; once enough changes were acknowledged one replica
  is SIGKILLed and the clients carry on with the other two. Then every change answered 200 is
  in the task's history exactly once: a (task, action) has as many records as it had 200s,
  plus at most the requests that were in flight at the kill (those may or may not have been
  applied; nothing else may differ).
- Three ticking replicas step a running task at most once per period: in any window of W
  seconds a task takes at most W / period + 1 steps (each step moves its due time on by a
  whole period: this bound is exact, not a timing guess; three uncoordinated tickers took three
  times that). It takes no step while paused, and keeps stepping after two of the three
  replicas are SIGKILLed.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import httpx
import pytest
from serve_kit import ServeProcess

KEY = "replicas-test-key-3b9d"
REPLICAS = 3
CLIENTS = 24
TASKS = 12
ACKED_BEFORE_KILL = 150
ACKED_AFTER_KILL = 150
PERIOD = 0.2
Replicas = Callable[[float], list[ServeProcess]]


@pytest.fixture(params=["sqlite", "postgresql"])
def replicas(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Replicas]:
    """Start REPLICAS ``tasklife serve`` processes on one fresh database, ticking every
    ``step_seconds``; all are killed at the end."""
    if request.param == "sqlite":
        db: tuple[str, ...] = ("--db", str(tmp_path / "tasks.sqlite3"))
    else:
        dsn = request.getfixturevalue("postgres_server")
        db = ("--db", dsn, "--db-schema", f"t_{uuid.uuid4().hex[:12]}", "--pool-max", "4")
    started: list[ServeProcess] = []

    def start(step_seconds: float) -> list[ServeProcess]:
        args = (*db, "--step-seconds", str(step_seconds))
        made = [ServeProcess(KEY, args, tmp_path / f"serve{n}.log") for n in range(REPLICAS)]
        started.extend(made)
        made[0].start()  # the first one creates the tables; the others start together
        threads = [threading.Thread(target=r.start) for r in made[1:]]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        for replica in made:
            replica.wait_ready()
        return made

    yield start
    for replica in started:
        replica.stop()


@attrs.define
class Load:
    """What the clients saw: 200s and in-flight failures per (task, action)."""

    servers: list[ServeProcess]
    acked: Counter[tuple[str, str]] = attrs.Factory(Counter)
    in_flight: Counter[tuple[str, str]] = attrs.Factory(Counter)
    codes: Counter[int] = attrs.Factory(Counter)
    dead: set[int] = attrs.Factory(set)
    target: int = ACKED_BEFORE_KILL
    reached: threading.Event = attrs.Factory(threading.Event)
    done: threading.Event = attrs.Factory(threading.Event)
    lock: threading.Lock = attrs.Factory(threading.Lock)
    errors: list[BaseException] = attrs.Factory(list)

    def run(self, task_ids: list[str], index: int) -> None:
        try:
            self.pause_resume(task_ids, index)
        except BaseException as error:
            self.errors.append(error)
            self.reached.set()

    def pause_resume(self, task_ids: list[str], index: int) -> None:
        """Alternate pause and resume on this client's tasks, each request to the next replica."""
        mine = task_ids[index % len(task_ids) :: len(task_ids)] or task_ids
        clients = [s.client(timeout=10) for s in self.servers]
        try:
            turn = index
            while not self.done.is_set():
                for action in ("pause", "resume"):
                    task_id = mine[turn % len(mine)]
                    live = [n for n in range(len(clients)) if n not in self.dead]
                    number = live[turn % len(live)]
                    turn += 1
                    self.send(clients[number], number, task_id, action)
        finally:
            for http in clients:
                http.close()

    def send(self, http: httpx.Client, number: int, task_id: str, action: str) -> None:
        try:
            response = http.put(f"/api/v1/{action}-task", params={"task_id": task_id})
        except httpx.ConnectError:  # its replica is dead: the request was never sent
            with self.lock:
                self.dead.add(number)
            return
        except httpx.TransportError:  # its replica died with it in flight: applied or not
            with self.lock:
                self.in_flight[task_id, action] += 1
                self.dead.add(number)
            return
        with self.lock:
            self.codes[response.status_code] += 1
            if response.status_code == 200:
                self.acked[task_id, action] += 1
                if sum(self.acked.values()) >= self.target:
                    self.reached.set()


def history(server: ServeProcess, task_id: str) -> list[dict[str, object]]:
    with server.client(timeout=10) as http:
        body = http.get(f"/emulator/v1/task/{task_id}/history").json()
    assert body["version"] == len(body["history"])
    records: list[dict[str, object]] = body["history"]
    return records


def steps(server: ServeProcess, task_id: str) -> int:
    with server.client(timeout=10) as http:
        return len(http.get(f"/api/v1/task/{task_id}").json()["steps"])


def steps_over(server: ServeProcess, task_id: str, seconds: float) -> tuple[int, float]:
    """How many steps the task took while about ``seconds`` passed, and the window's length
    (from before the first read to after the last, so every step counted is inside it)."""
    start = time.monotonic()
    before = steps(server, task_id)
    threading.Event().wait(seconds)  # the observation window, not a synchronisation
    after = steps(server, task_id)
    return after - before, time.monotonic() - start


class TestReplicas:
    def test_a_kill_loses_and_doubles_no_acknowledged_change(self, replicas: Replicas) -> None:
        """24 clients spread pause/resume over 3 replicas, one SIGKILLed midway: each 200 is
        recorded exactly once (plus at most the requests in flight at the kill)."""
        servers = replicas(0.05)
        with servers[0].client(timeout=10) as http:
            task_ids = [
                http.post(
                    "/api/v1/run-task", json={"task": f"shared {i}", "max_agent_steps": 200}
                ).json()["id"]
                for i in range(TASKS)
            ]
        load = Load(servers)
        threads = [threading.Thread(target=load.run, args=(task_ids, i)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        assert load.reached.wait(120), "the load never reached the kill threshold"
        load.reached.clear()
        load.target = ACKED_BEFORE_KILL + ACKED_AFTER_KILL
        servers[1].kill()  # clients are still sending to it
        assert load.reached.wait(120), "the two survivors did not carry the load on"
        load.done.set()
        for thread in threads:
            thread.join(timeout=60)
        assert load.errors == []
        assert set(load.codes) <= {200, 409}, load.codes
        for task_id in task_ids:
            found = Counter((task_id, r["action"]) for r in history(servers[2], task_id)[1:])
            for action in ("pause", "resume"):
                key = (task_id, action)
                assert load.acked[key] <= found[key], f"a 200 was lost: {key}"
                assert found[key] - load.acked[key] <= load.in_flight[key], f"doubled: {key}"
        assert sum(load.acked.values()) >= ACKED_BEFORE_KILL + ACKED_AFTER_KILL

    def test_ticking_replicas_step_once_per_period(self, replicas: Replicas) -> None:
        """3 ticking replicas: at most one step per period, none while paused, and the task
        keeps stepping after two replicas are SIGKILLed."""
        servers = replicas(PERIOD)
        with servers[0].client(timeout=10) as http:
            body = {"task": "ticking", "max_agent_steps": 200}
            task_id = http.post("/api/v1/run-task", json=body).json()["id"]
        taken, window = steps_over(servers[1], task_id, 1.5)
        assert taken <= window / PERIOD + 1, (taken, window)
        assert taken >= 1, "three ticking replicas did not step a running task in 2 s"
        with servers[2].client(timeout=10) as http:
            assert http.put("/api/v1/pause-task", params={"task_id": task_id}).status_code == 200
        assert steps_over(servers[0], task_id, 0.6)[0] == 0
        with servers[1].client(timeout=10) as http:
            assert http.put("/api/v1/resume-task", params={"task_id": task_id}).status_code == 200
        servers[0].kill()
        servers[1].kill()
        taken, window = steps_over(servers[2], task_id, 1.5)
        assert 1 <= taken <= window / PERIOD + 1, (taken, window)
