"""Many threads on many tasks in one process: no lost record, no double-applied transition.

32 threads start together (a ``Barrier``) and each performs 1,000 random operations on 100
shared tasks: actions, prepare/commit pairs, reconcile, advance, round trips. Every True that
``apply`` returns, every record ``commit``/``reconcile`` returns and every record a listener
receives is counted; afterwards the counts equal the histories, record for record.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

import attrs
from strategies import ticking_clock

from tasklife import (
    LIFECYCLE,
    Action,
    InvalidTransition,
    StaleTransition,
    Task,
    TaskConflict,
    TaskNotRunning,
    TaskStatus,
    TransitionRecord,
)

THREADS = 32
OPERATIONS = 1_000
TASKS = 100
# Terminal actions are rare so that tasks stay alive and keep contending for most of the run.
WEIGHTS = {"start": 10, "pause": 30, "resume": 30, "stop": 0.1, "finish": 0.1, "fail": 0.1}


@attrs.define
class Tally:
    """What one thread saw: records it was told it committed, refusals, operations done."""

    committed: list[tuple[str, int]] = attrs.Factory(list)
    applied_true: int = 0
    refused: Counter[str] = attrs.Factory(Counter)
    operations: int = 0


def worker(seed: int, tasks: list[Task], barrier: threading.Barrier, tally: Tally) -> None:
    """Perform ``OPERATIONS`` random operations, recording every acknowledged transition."""
    rng = random.Random(seed)
    names = list(WEIGHTS)
    weights = list(WEIGHTS.values())
    barrier.wait()
    for _ in range(OPERATIONS):
        task = rng.choice(tasks)
        kind = rng.random()
        tally.operations += 1
        try:
            if kind < 0.55:
                action = Action(rng.choices(names, weights)[0])
                if task.apply(action):
                    tally.applied_true += 1
                    # The thread does not know which seq it got; the listener does. Counted below.
            elif kind < 0.80:
                prepared = task.prepare(Action(rng.choices(names, weights)[0]))
                if prepared is not None:
                    record = task.commit(prepared)
                    tally.committed.append((task.id, record.seq))
            elif kind < 0.88:
                remote = rng.choice([TaskStatus.RUNNING, TaskStatus.PAUSED])
                for record in task.reconcile(remote, steps=rng.randrange(50)):
                    tally.committed.append((task.id, record.seq))
            elif kind < 0.96:
                task.advance(rng.randrange(1, 5))
            else:
                assert Task.from_dict(task.to_dict()).version >= 0
        except (InvalidTransition, TaskNotRunning, StaleTransition, TaskConflict) as error:
            tally.refused[type(error).__name__] += 1


def check_chain(task: Task) -> None:
    """The invariants every task must satisfy after the run."""
    history = task.history
    assert task.version == len(history)
    current = TaskStatus.CREATED
    for seq, record in enumerate(history, 1):
        assert (record.seq, record.source) == (seq, current)
        assert LIFECYCLE.target(record.source, record.action) is record.dest
        current = record.dest
    assert current is task.status
    terminal = [i for i, r in enumerate(history) if r.dest.is_terminal]
    assert terminal in ([], [len(history) - 1]), "a terminal status was left"
    assert Task.from_dict(task.to_dict()) == task


def run(seed: int) -> tuple[list[Task], list[Tally], dict[str, list[TransitionRecord]]]:
    """Run the workload; returns the tasks, each thread's tally and what listeners saw."""
    tasks = [Task(f"task_{i}", clock=ticking_clock()) for i in range(TASKS)]
    heard: dict[str, list[TransitionRecord]] = {task.id: [] for task in tasks}
    for task in tasks:
        task.subscribe(lambda t, record: heard[t.id].append(record))
    barrier = threading.Barrier(THREADS)
    tallies = [Tally() for _ in range(THREADS)]
    errors: list[BaseException] = []

    def guarded(index: int) -> None:
        try:
            worker(seed * 1000 + index, tasks, barrier, tallies[index])
        except BaseException as error:  # reported by the test, not lost in a thread
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return tasks, tallies, heard


class TestThreads:
    def test_no_lost_or_doubled_record(self) -> None:
        """32 threads x 1,000 operations over 100 tasks: every acknowledged transition is a
        history record exactly once, and listeners heard each record once, in order."""
        tasks, tallies, heard = run(seed=6)
        total_records = sum(task.version for task in tasks)
        acknowledged = sum(t.applied_true + len(t.committed) for t in tallies)
        assert acknowledged == total_records
        returned = [key for t in tallies for key in t.committed]
        assert len(returned) == len(set(returned)), "one record acknowledged twice"
        by_task = {task.id: task for task in tasks}
        for task_id, seq in returned:
            assert seq <= by_task[task_id].version
        for task in tasks:
            assert heard[task.id] == list(task.history)
            check_chain(task)
        assert sum(t.operations for t in tallies) == THREADS * OPERATIONS

    def test_contention_happened(self) -> None:
        """The workload really contends: refusals occur and tasks stay alive long enough."""
        tasks, tallies, _ = run(seed=7)
        refused: Counter[str] = sum((t.refused for t in tallies), Counter())
        assert refused["InvalidTransition"] > 0
        assert sum(task.version for task in tasks) > TASKS * 10
        assert any(not task.is_terminal for task in tasks)


def figures(seed: int = 6) -> dict[str, Any]:
    """The figures RELIABILITY.md quotes (``python -c 'import ...; figures()'``)."""
    tasks, tallies, heard = run(seed)
    refused: Counter[str] = sum((t.refused for t in tallies), Counter())
    return {
        "operations": sum(t.operations for t in tallies),
        "records": sum(task.version for task in tasks),
        "acknowledged": sum(t.applied_true + len(t.committed) for t in tallies),
        "heard": sum(len(v) for v in heard.values()),
        "refused": dict(refused),
        "terminal_tasks": sum(task.is_terminal for task in tasks),
    }
