"""Seeding a server's database in tests: a task as ``tasklife serve`` would hold it.

``seed`` writes a ``Task`` built by the test (any id, any status) and its service row, in one
transaction of the store, through the service tables' own flows (``tasklife.service.tables``).
"""

from __future__ import annotations

from typing import Any

from tasklife import Task
from tasklife.service import SERVICE, TaskService
from tasklife.service.tables import ServiceRow, SQLStore, insert_row


def seed(store: SQLStore, owner: str, task: Task, *, text: str = "t", **fields: Any) -> None:
    """Store ``task`` for ``owner`` with ``text`` and the service row's other ``fields``."""
    TaskService(store).open()  # the service's tables exist before the first row
    sql = SERVICE.sql(store.sql)
    row = ServiceRow(
        task.id,
        owner,
        text,
        fields.pop("llm_model", "gpt-4o"),
        fields.pop("max_agent_steps", 75),
        fields.pop("metadata", {}),
        **fields,
    )
    with store.transaction() as tx:
        tx.add(task)
        tx.run_flow(insert_row(sql, row))
