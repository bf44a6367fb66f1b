"""A process acting on a store for the contract suite: ``python store_worker.py ROLE SPEC ...``.

Roles (each prints one JSON line per acknowledged result on stdout):

- ``writer SPEC SEED OPS TASK...``: ``OPS`` units of work, each pausing a running task or
  resuming a paused one among ``TASK...``; prints ``[task, version]`` for each one written.
- ``reader SPEC SENTINEL``: follows the feed from its start (``changes`` after its cursor,
  waiting on ``watch`` when there is nothing new) until the task ``SENTINEL`` is added;
  prints ``[task, kind, seq]`` for every entry.
- ``consumer SPEC NAME``: ``consume``s the cursor ``NAME`` in transactions of its own
  connection, inserting each entry's cursor into the backend's own table in the same
  transaction, until a ``consume`` finds nothing; prints the cursors it committed.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from store_kit import Kit, Spec

from tasklife import Task, TaskStatus


def toggle(task: Task) -> bool:
    return task.pause() if task.status is TaskStatus.RUNNING else task.resume()


def writer(kit: Kit, seed: int, ops: int, tasks: list[str]) -> None:
    chooser = random.Random(seed)
    for _ in range(ops):
        task_id = chooser.choice(tasks)
        outcome = kit.transact(task_id, toggle, attempts=100)
        if outcome.changed:
            print(json.dumps([task_id, outcome.loaded.version]), flush=True)


def reader(kit: Kit, sentinel: str) -> None:
    cursor = None
    with kit.watch() as watch:
        while True:
            page = kit.changes(after=cursor, limit=50)
            for change in page:
                print(json.dumps([change.task_id, change.kind, change.data.get("seq")]))
                if change.task_id == sentinel:
                    sys.stdout.flush()
                    return
            if page:
                cursor = page[-1].cursor
            else:
                watch.wait(1.0)


def consumer(kit: Kit, name: str) -> None:
    while True:
        with kit.caller_transaction() as (tx, sql):
            page = tx.consume(name, 7)
            for change in page:
                sql(f"INSERT INTO {kit.table} (note) VALUES (%s)", (change.cursor,))
        if not page:
            return
        for change in page:
            print(json.dumps(change.cursor), flush=True)


def main(argv: list[str]) -> None:
    role, spec = argv[0], Spec.loads(argv[1])
    kit = spec.open()
    try:
        if role == "writer":
            writer(kit, int(argv[2]), int(argv[3]), argv[4:])
        elif role == "reader":
            reader(kit, argv[2])
        else:
            consumer(kit, argv[2])
    finally:
        kit.close()


if __name__ == "__main__":
    main(sys.argv[1:])
