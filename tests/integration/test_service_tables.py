"""The service's tables beside the store's, on SQLite and PostgreSQL: names, migrations,
atomicity with the store, the simulated execution's due times (an injected clock), and the
import of a ``tasklife serve`` file in the old emulator layout."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from clocks import ManualClock

from tasklife import Action, InvalidTransition, Task, TaskNotRunning, TaskStatus
from tasklife.server.testing import LiveServer
from tasklife.service import SERVICE, ServiceTask, TaskService
from tasklife.service.tables import ServiceRow, SQLStore, insert_row
from tasklife.service.writer import Writer
from tasklife.store import (
    PostgresTaskStore,
    SQLiteTaskStore,
    StoreConflict,
    StoreCorruption,
    StoreError,
    TaskNotStored,
    TooManyConflicts,
)
from tasklife.store.plan import Flow, Statement
from tasklife.v1 import TaskNotFound, task_view_to_json

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
OLD_FILE = FIXTURES / "serve_emulator_v2.sqlite3"
OLD_VIEWS = json.loads((FIXTURES / "serve_emulator_v2.json").read_text(encoding="utf-8"))
OWNER, OTHER = "owner-a", "owner-b"
START = datetime(2026, 1, 1, tzinfo=UTC)
Opener = Callable[[], SQLStore]


@pytest.fixture(params=["sqlite", "postgresql"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens stores on one fresh database (a SQLite file, or a schema of the run's PostgreSQL
    database); every store it opened is closed at the end."""
    opened: list[SQLStore] = []

    def open_store() -> SQLStore:
        store: SQLStore
        if request.param == "sqlite":
            store = SQLiteTaskStore(tmp_path / "tasks.sqlite3")
        else:
            store = PostgresTaskStore(dsn, schema=schema)
        opened.append(store)
        return store

    if request.param == "postgresql":
        dsn = request.getfixturevalue("postgres_server")
        schema = f"t_{uuid.uuid4().hex[:12]}"
    yield open_store
    for store in opened:
        store.close()


def rows(store: SQLStore, template: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run a statement on the service's tables (``{service_tasks}``, ...) in a transaction."""
    sql = SERVICE.sql(store.sql)

    def flow() -> Flow[list[tuple[Any, ...]]]:
        return (yield Statement(sql.text(template), params)).rows

    with store.transaction() as tx:
        return tx.run_flow(flow())


class TestTables:
    def test_named_from_the_store(self, opener: Opener) -> None:
        """The service's table is named like the store's: prefixed on SQLite, in its schema on
        PostgreSQL; opening creates it."""
        store = opener()
        TaskService(store).open()
        name = SERVICE.sql(store.sql).tables["service_tasks"]
        assert name == store.sql.table("service_tasks")
        assert name in {'"tasklife_service_tasks"', f'"{store.sql.schema}"."service_tasks"'}
        assert rows(store, "SELECT count(*) FROM {service_tasks}") == [(0,)]

    def test_migrations_are_recorded_once(self, opener: Opener) -> None:
        """Opening twice (two services, as replicas would) applies migration 1 once."""
        TaskService(opener()).open()
        store = opener()
        TaskService(store).open()
        assert rows(store, "SELECT version FROM {migrations}") == [(1,)]

    def test_newer_schema_is_refused(self, opener: Opener) -> None:
        """Service tables migrated by a newer tasklife are refused with StoreError."""
        store = opener()
        TaskService(store).open()
        rows(store, "INSERT INTO {migrations} (version, applied_at) VALUES (%s, %s)", 99, START)
        with pytest.raises(StoreError, match="newer"):
            TaskService(opener()).open()

    def test_task_and_row_roll_back_together(self, opener: Opener) -> None:
        """A transaction that raises after adding a task and its row keeps neither."""
        store = opener()
        service = TaskService(store).open()
        sql = SERVICE.sql(store.sql)
        service.run_task(OWNER, "kept")

        def add_then_fail() -> None:
            with store.transaction() as tx:
                tx.add(Task("task_gone"))
                tx.run_flow(insert_row(sql, ServiceRow("task_gone", OWNER, "t", "m", 5, {})))
                raise RuntimeError

        with pytest.raises(RuntimeError):
            add_then_fail()
        assert service.page(OWNER, 1, 10).total_count == 1
        with pytest.raises(TaskNotFound):
            service.read(None, "task_gone", ServiceTask.view)

    def test_service_data_survives_reopening(self, opener: Opener) -> None:
        """Text, model, metadata and step limit come back from a new service on a new store."""
        first = TaskService(opener())
        made = first.run_task(
            OWNER, "find é", llm_model="m", max_agent_steps=9, metadata={"a": "b"}
        )
        first.advance(OWNER, made.id, 9)
        view = TaskService(opener()).read(OWNER, made.id, ServiceTask.view)
        assert (view.task, view.llm_model, view.max_agent_steps, dict(view.metadata)) == (
            "find é",
            "m",
            9,
            {"a": "b"},
        )
        assert (view.status, view.steps, view.finished_at is not None) == (
            TaskStatus.FINISHED,
            9,
            True,
        )
        assert view.output is not None
        assert "find é" in view.output

    def test_owners_and_pages(self, opener: Opener) -> None:
        """An owner pages through its own tasks only, newest first; another's task is missing."""
        service = TaskService(opener())
        mine = [service.run_task(OWNER, f"t{i}").id for i in range(3)]
        theirs = service.run_task(OTHER, "x").id
        page = service.page(OWNER, 1, 2)
        assert [s.id for s in page.tasks] == [mine[2], mine[1]]
        assert (page.total_count, page.total_pages) == (3, 2)
        assert [s.id for s in service.page(OWNER, 2, 2).tasks] == [mine[0]]
        with pytest.raises(TaskNotFound):
            service.read(OWNER, theirs, ServiceTask.view)
        with pytest.raises(TaskNotFound):
            service.act(OWNER, theirs, Action.PAUSE)
        assert service.status(OTHER, theirs) is TaskStatus.RUNNING

    def test_a_refused_action_changes_nothing(self, opener: Opener) -> None:
        """A refused action leaves the task, its token and its service row as they were."""
        store = opener()
        service = TaskService(store, step_seconds=1, clock=ManualClock(START))
        task_id = service.run_task(OWNER, "t").id
        service.act(OWNER, task_id, Action.STOP)
        before = service.read(OWNER, task_id, lambda r: (r.token, r.row, r.task.history))
        with pytest.raises(InvalidTransition):
            service.act(OWNER, task_id, Action.RESUME)
        assert service.read(OWNER, task_id, lambda r: (r.token, r.row, r.task.history)) == before


def ticks_at(service: TaskService, clock: ManualClock, *times: float) -> list[int]:
    """What ``service.tick()`` stepped at each of ``times`` (seconds after the start)."""
    stepped = []
    for seconds in times:
        clock.at(seconds)
        stepped.append(service.tick())
    return stepped


class TestDueTimes:
    """The simulated execution's schedule, with an injected clock and ``step_seconds=1``."""

    def steps(self, service: TaskService, task_id: str) -> int:
        return service.read(None, task_id, lambda r: r.task.steps)

    def test_a_running_task_steps_once_per_period(self, opener: Opener) -> None:
        """Due one period after it starts; a tick steps it once and moves the due time on."""
        clock = ManualClock(START)
        service = TaskService(opener(), step_seconds=1, clock=clock)
        task_id = service.run_task(OWNER, "t").id
        assert service.tick() == 0  # not due yet
        assert ticks_at(service, clock, 1.0, 1.0) == [1, 0]
        assert ticks_at(service, clock, 1.5, 2.0) == [0, 1]
        assert self.steps(service, task_id) == 2

    def test_never_while_paused(self, opener: Opener) -> None:
        """A paused task is not due; resumed, it is due one period later."""
        clock = ManualClock(START)
        service = TaskService(opener(), step_seconds=1, clock=clock)
        task_id = service.run_task(OWNER, "t").id
        service.act(OWNER, task_id, Action.PAUSE)
        assert service.tick() == 0
        clock.at(50)
        assert service.tick() == 0
        service.act(OWNER, task_id, Action.RESUME)
        assert ticks_at(service, clock, 50.5, 51) == [0, 1]
        assert self.steps(service, task_id) == 1

    def test_ticks_far_behind_take_no_burst(self, opener: Opener) -> None:
        """After 100 periods without a tick, a task takes one step per tick, not 100."""
        clock = ManualClock(START)
        service = TaskService(opener(), step_seconds=1, clock=clock)
        task_id = service.run_task(OWNER, "t").id
        clock.at(101)
        assert [service.tick(), service.tick()] == [1, 0]
        clock.at(101.5)
        assert service.tick() == 1
        assert self.steps(service, task_id) == 2

    def test_finishes_at_its_step_limit(self, opener: Opener) -> None:
        """The tick that takes the last step finishes the task; it is then never due."""
        clock = ManualClock(START)
        service = TaskService(opener(), step_seconds=1, clock=clock)
        task_id = service.run_task(OWNER, "t", max_agent_steps=2).id
        assert ticks_at(service, clock, 1, 2, 3) == [1, 1, 0]
        assert service.status(OWNER, task_id) is TaskStatus.FINISHED

    def test_manual_mode_steps_every_running_task_per_tick(self, opener: Opener) -> None:
        """With step_seconds=0 each tick (at a later instant) steps each running task once."""
        clock = ManualClock(START)
        service = TaskService(opener(), clock=clock)
        ids = [service.run_task(OWNER, f"t{i}").id for i in range(3)]
        service.act(OWNER, ids[0], Action.PAUSE)
        assert ticks_at(service, clock, 0.001, 0.001, 0.002) == [2, 0, 2]
        assert [self.steps(service, i) for i in ids] == [0, 2, 2]

    def test_replicas_ticking_at_once_step_each_task_once(self, opener: Opener) -> None:
        """Four services on one database tick the same due instant from four threads: 150
        due tasks take exactly one step each."""
        clock = ManualClock(START)
        services = [TaskService(opener(), step_seconds=1, clock=clock) for _ in range(4)]
        ids = [services[0].run_task(OWNER, f"t{i}").id for i in range(150)]
        clock.at(1)
        stepped: list[int] = []
        barrier = threading.Barrier(len(services))

        def tick(service: TaskService) -> None:
            barrier.wait(timeout=30)
            stepped.append(service.tick())

        threads = [threading.Thread(target=tick, args=(s,)) for s in services]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sum(stepped) == 150
        assert {self.steps(services[0], i) for i in ids} == {1}


class TestOldServeFile:
    """A file ``tasklife serve`` wrote in the emulator layout (made by that release's code)."""

    @pytest.fixture
    def old(self, tmp_path: Path) -> Path:
        copy = tmp_path / "old.sqlite3"
        shutil.copyfile(OLD_FILE, copy)
        return copy

    def test_views_are_unchanged(self, old: Path) -> None:
        """Every task answers the same view, history and owner as before the move; the
        owners' pages keep the creation order; the old tables are gone."""
        with SQLiteTaskStore(old) as store:
            service = TaskService(store).open()
            for task_id in OLD_VIEWS["order"]:
                owner = OLD_VIEWS["owners"][task_id]
                expected = OLD_VIEWS["views"][task_id]
                view = service.read(owner, task_id, lambda r: task_view_to_json(r.view()))
                assert view == expected["task"]
                history = service.read(owner, task_id, ServiceTask.history)
                old_records = expected["history"]["history"]
                assert len(history["history"]) == len(old_records)
                for record, old_record in zip(history["history"], old_records, strict=True):
                    assert {k: record[k] for k in old_record} == old_record  # newer fields added
                assert history["version"] == expected["history"]["version"]
            for owner in set(OLD_VIEWS["owners"].values()):
                listed = [s.id for s in service.page(owner, 1, 100).tasks]
                made = [i for i in OLD_VIEWS["order"] if OLD_VIEWS["owners"][i] == owner]
                assert listed == made[::-1]
        with sqlite3.connect(old) as db:
            names = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        assert not {"tasks", "transitions", "schema_migrations"} & names

    def test_served_as_before(self, old: Path) -> None:
        """``tasklife serve``'s app on the old file answers each task's view as before."""
        keys = ["tl-test-key-0123456789", "tl-other-key-9876543210"]
        with LiveServer.start(old, api_keys=keys) as server:
            for key in keys:
                with server.client(key) as http:
                    for task in http.get("/api/v1/tasks").json()["tasks"]:
                        body = http.get(f"/api/v1/task/{task['id']}").json()
                        assert body == OLD_VIEWS["views"][task["id"]]["task"]
            with server.client(keys[0]) as http:
                assert http.get("/api/v1/tasks").json()["total_count"] == 3

    def test_moved_once_and_running_tasks_step(self, old: Path) -> None:
        """Reopening moves nothing twice; the running task is due at once."""
        with SQLiteTaskStore(old) as store:
            TaskService(store).open()
        with SQLiteTaskStore(old) as store:
            service = TaskService(store).open()
            assert service.tick() == 1
            owners = set(OLD_VIEWS["owners"].values())
            assert sum(service.page(o, 1, 100).total_count for o in owners) == 5

    def test_a_bad_row_moves_nothing(self, old: Path) -> None:
        """A row the move cannot read is StoreCorruption and the file keeps its old layout."""
        with sqlite3.connect(old) as db:
            db.execute("UPDATE tasks SET status = 'lost' WHERE id = ?", (OLD_VIEWS["order"][2],))
        with SQLiteTaskStore(old) as store, pytest.raises(StoreCorruption):
            TaskService(store).open()
        with sqlite3.connect(old) as db:
            assert db.execute("SELECT count(*) FROM tasks").fetchone() == (5,)
            assert db.execute("SELECT count(*) FROM tasklife_tasks").fetchone() == (0,)


class TestGroupCommit:
    """The writer runs waiting works in one transaction; one failing work fails no other."""

    def batch(self, store: SQLStore, works: list[Callable[[Any], Any]]) -> list[Any]:
        """Run ``works`` in one batch (queued while a first work holds the writer); each
        one's result, or the exception it ended with."""
        writer = Writer(store, attempts=3, clean=(TaskNotRunning,))
        hold, held = threading.Event(), threading.Event()

        def first(tx: Any) -> None:
            held.set()
            assert hold.wait(30)

        writer.submit(first)
        assert held.wait(30)
        futures = [writer.submit(work) for work in works]
        hold.set()
        outcomes = []
        for future in futures:
            try:
                outcomes.append(future.result(timeout=30))
            except Exception as error:
                outcomes.append(error)
        writer.close()
        return outcomes

    def stored(self, store: SQLStore, task_id: str) -> bool:
        with store.transaction() as tx:
            try:
                tx.load(task_id)
            except TaskNotStored:
                return False
        return True

    def test_a_failing_work_fails_no_other(self, opener: Opener) -> None:
        """A refusal, and a work that wrote then raised, end alone: the batch is retried
        without the second, whose write is gone; the other works are committed once."""
        store = opener()

        def add(task_id: str) -> Callable[[Any], str]:
            def work(tx: Any) -> str:
                tx.add(Task(task_id))
                return task_id

            return work

        def refused(tx: Any) -> None:
            raise TaskNotRunning("task_x", TaskStatus.PAUSED)

        def wrote_then_failed(tx: Any) -> None:
            tx.add(Task("task_b"))
            raise RuntimeError("boom")

        outcomes = self.batch(store, [add("task_a"), refused, wrote_then_failed, add("task_c")])
        assert outcomes[0] == "task_a"
        assert isinstance(outcomes[1], TaskNotRunning)
        assert isinstance(outcomes[2], RuntimeError)
        assert outcomes[3] == "task_c"
        assert [self.stored(store, i) for i in ("task_a", "task_b", "task_c")] == [1, 0, 1]

    def test_a_conflict_runs_again_then_gives_up(self, opener: Opener) -> None:
        """A work that lost a race runs again in a later batch; after 3 attempts it is
        TooManyConflicts; the other works of its batches commit."""
        store = opener()
        tries = {"once": 0, "always": 0}

        def conflict(name: str, times: int) -> Callable[[Any], str]:
            def work(tx: Any) -> str:
                tries[name] += 1
                if tries[name] <= times:
                    raise StoreConflict(f"task_{name}", 1, 2)
                tx.add(Task(f"task_{name}"))
                return name

            return work

        def add_d(tx: Any) -> str:
            tx.add(Task("task_d"))
            return "d"

        outcomes = self.batch(store, [conflict("once", 1), add_d, conflict("always", 99)])
        assert outcomes[:2] == ["once", "d"]
        assert isinstance(outcomes[2], TooManyConflicts)
        assert tries["always"] == 3  # the others ran again each time its batch rolled back
        assert tries["once"] >= 2
        assert [self.stored(store, f"task_{n}") for n in ("once", "d", "always")] == [1, 1, 0]

    def test_requests_arriving_together_share_one_transaction(self, tmp_path: Path) -> None:
        """20 actions awaited together on an event loop (SQLite) commit in one transaction,
        each answered; a refused one among them changes nothing of the others."""

        class Counting:
            def __init__(self, store: SQLiteTaskStore) -> None:
                self.store, self.opened = store, 0
                self.sql = store.sql

            def transaction(self) -> Any:
                self.opened += 1
                return self.store.transaction()

            def close(self) -> None:
                self.store.close()

        counting = Counting(SQLiteTaskStore(tmp_path / "t.sqlite3"))
        service = TaskService(counting).open()
        ids = [service.run_task(OWNER, f"t{i}").id for i in range(20)]
        service.act(OWNER, ids[7], Action.STOP)
        before = counting.opened

        async def together() -> list[Any]:
            calls = [service.act_async(OWNER, task_id, Action.PAUSE) for task_id in ids]
            return await asyncio.gather(*calls, return_exceptions=True)

        outcomes = asyncio.run(together())
        assert counting.opened - before == 1
        assert isinstance(outcomes.pop(7), InvalidTransition)
        assert outcomes == [True] * 19
        paused = [service.status(OWNER, i) for i in ids if i != ids[7]]
        assert set(paused) == {TaskStatus.PAUSED}
        service.close()
        counting.close()
