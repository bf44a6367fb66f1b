"""The import of a ``tasklife serve`` SQLite file written before the service tables existed.

Up to tasklife 0.x's emulator store, ``tasklife serve`` kept its tasks in three unprefixed tables:
``tasks`` (one row per task: the v1 fields and the task's head), ``transitions`` (one row per
record) and ``schema_migrations``. Opening such a file now moves every task into the store
(``add``: the feed gets each task's ``added`` entry and its records) and its v1 fields into
``service_tasks``, keeping the tasks' order, then drops the three old tables, all in the one
transaction that also creates the service's tables: the file is either wholly in the new layout
or untouched. A running task is due for its next step at once.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import Any, Final

from tasklife.errors import InvalidTaskData
from tasklife.lifecycle import TaskStatus
from tasklife.service.tables import ServiceRow, insert_row
from tasklife.store import StoreCorruption
from tasklife.store import plan as store_plan
from tasklife.store.plan import Flow, Sql, Statement
from tasklife.task import Clock, Task

__all__ = ["import_emulator"]

_LEGACY_LAYOUT: Final = 1
"""The ``to_dict`` layout the old tables' rows spell (``schema_version`` 1)."""
_FOUND: Final = Statement(
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
    "AND name IN ('schema_migrations', 'transitions')"
)
_OWNED: Final = Statement("SELECT count(*) FROM pragma_table_info('tasks') WHERE name = 'owner'")
_TASKS: Final = Statement(
    "SELECT id, owner, status, version, steps, created_at, finished_at, text, output, "
    "metadata, llm_model, max_agent_steps FROM tasks ORDER BY seq"
)
_RECORDS: Final = Statement(
    "SELECT task_id, seq, action, source, dest, at, origin, reason FROM transitions "
    "ORDER BY task_id, seq"
)
_RECORD_KEYS: Final = ("seq", "action", "source", "dest", "at", "origin", "reason")
_DROP: Final = tuple(
    Statement(f"DROP TABLE {name}") for name in ("transitions", "tasks", "schema_migrations")
)


def import_emulator(sql: Sql, clock: Clock, now: int) -> Flow[int]:
    """Move the old layout's tasks into the store and ``service_tasks``; how many moved.

    Does nothing (0) unless ``sql`` is SQLite's with a prefix (the old tables are unprefixed)
    and the file holds the old layout. ``now`` is the running tasks' due time.
    """
    if sql.engine != "sqlite" or not sql.prefix:
        return 0
    found = yield _FOUND
    owned = yield _OWNED
    if found.rows[0][0] != 2 or owned.rows[0][0] != 1:
        return 0
    rows = (yield _TASKS).rows
    histories: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in (yield _RECORDS).rows:
        histories[record[0]].append(dict(zip(_RECORD_KEYS, record[1:], strict=True)))
    for row in rows:
        task, service_row = _task(row, histories[row[0]], now)
        yield from store_plan.add(sql, task, clock)
        yield from insert_row(sql, service_row)
    for statement in _DROP:  # noqa: UP028 - a tuple cannot take the rows sent back
        yield statement
    return len(rows)


def _task(row: tuple[Any, ...], history: list[dict[str, Any]], now: int) -> tuple[Task, ServiceRow]:
    (task_id, owner, status, version, steps, created_at, finished_at, text, output, metadata,
     model, max_steps) = row  # fmt: skip
    try:
        task = Task.from_dict(
            {
                "schema_version": _LEGACY_LAYOUT,
                "id": task_id,
                "status": status,
                "version": version,
                "steps": steps,
                "created_at": created_at,
                "history": history,
            }
        )
        service_row = ServiceRow(
            id=task_id,
            owner=owner,
            text=text,
            llm_model=model,
            max_agent_steps=int(max_steps),
            metadata=dict(json.loads(metadata)),
            output=output,
            finished_at=None if finished_at is None else datetime.fromisoformat(finished_at),
            due_at=now if task.status is TaskStatus.RUNNING else None,
        )
    except (InvalidTaskData, TypeError, ValueError) as error:
        raise StoreCorruption(str(task_id), f"the old emulator layout: {error}") from None
    return task, service_row
