"""The Browser Use v1 JSON shapes the server answers with, built from stored tasks.

Plain dicts, not pydantic models: they are on the hot path and are serialised once, directly.
Fields the emulator has no real value for (``live_url``, ``browser_data``, the file lists,
``public_share_url``) are present with empty values so v1 clients find every key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tasklife.store import EmulatorSummary, StoredTask

__all__ = ["history_view", "page_fields", "page_view", "step_view", "summary_view", "task_view"]


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def step_view(record: StoredTask, number: int) -> dict[str, Any]:
    """The v1 step object for step ``number`` (from 1), synthesised from the step counter."""
    return {
        "id": f"{record.id}_step_{number}",
        "step": number,
        "evaluation_previous_goal": "Unknown - first step" if number == 1 else "Success",
        "next_goal": f"Simulated step {number} of {record.max_agent_steps}",
        "url": "about:blank",
    }


def task_view(record: StoredTask) -> dict[str, Any]:
    """The v1 task view: ``GET /api/v1/task/{task_id}``."""
    task = record.task
    return {
        "id": task.id,
        "task": record.text,
        "output": record.output,
        "status": task.status.value,
        "created_at": task.created_at.isoformat(),
        "finished_at": _iso(record.finished_at),
        "steps": [step_view(record, n) for n in range(1, task.steps + 1)],
        "live_url": None,
        "browser_data": None,
        "user_uploaded_files": [],
        "output_files": [],
        "public_share_url": None,
        "metadata": dict(record.metadata),
        "llm_model": record.llm_model,
        "max_agent_steps": record.max_agent_steps,
    }


def summary_view(summary: EmulatorSummary) -> dict[str, Any]:
    """One item of ``GET /api/v1/tasks``."""
    return {
        "id": summary.id,
        "task": summary.text,
        "output": summary.output,
        "status": summary.status.value,
        "created_at": summary.created_at.isoformat(),
        "finished_at": _iso(summary.finished_at),
        "live_url": None,
    }


def page_view(items: list[dict[str, Any]], total: int, page: int, limit: int) -> dict[str, Any]:
    """``GET /api/v1/tasks``: one page, newest first; ``total_pages`` is 0 when there are none."""
    return {"tasks": items, **page_fields(total, page, limit)}


def page_fields(total: int, page: int, limit: int) -> dict[str, Any]:
    """The fields of a page that follow its ``tasks``, in the order the page writes them."""
    return {
        "total_pages": -(-total // limit),
        "page": page,
        "limit": limit,
        "total_count": total,
    }


def history_view(record: StoredTask) -> dict[str, Any]:
    """The emulator's ``GET /emulator/v1/task/{task_id}/history``: every transition record."""
    task = record.task
    return {
        "id": task.id,
        "status": task.status.value,
        "steps": task.steps,
        "version": task.version,
        "revision": record.revision,
        "history": [r.to_dict() for r in task.history],
    }
