"""What the v1 API answers with, as frozen records, and the strict readers that build them.

The readers take decoded JSON (no httpx here) and raise ``ProtocolError`` for anything that
is not the documented shape: a missing ``id``, a status string outside ``TaskStatus``, a
timestamp that is no ISO 8601, a list where an object belongs. Unknown extra fields are
ignored (the remote may add some); the whole decoded body stays available as ``raw``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, cast

import attrs

from tasklife.errors import InvalidTaskData
from tasklife.lifecycle import TaskStatus
from tasklife.transports.errors import ProtocolError

__all__ = [
    "MAX_AGENT_STEPS",
    "RemoteStep",
    "TaskPage",
    "TaskSummary",
    "TaskView",
    "parse_created",
    "parse_page",
    "parse_status",
    "parse_task_view",
    "run_task_body",
]

MAX_AGENT_STEPS: Final = 200
"""The v1 API's upper bound for ``max_agent_steps`` (its default is 75)."""

_STATUSES: Final = cast("dict[str, TaskStatus]", TaskStatus._value2member_map_)
_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})


def _frozen_mapping(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


@attrs.frozen
class RemoteStep:
    """One step object of the v1 task view (``steps[i]``)."""

    step: int
    id: str | None = None
    evaluation_previous_goal: str | None = None
    next_goal: str | None = None
    url: str | None = None


@attrs.frozen
class TaskView:
    """The v1 task view (``GET /api/v1/task/{task_id}``).

    ``steps`` is the number of steps taken (what ``Task.steps`` mirrors); ``step_details``
    holds the step objects themselves. ``raw`` is the decoded body, every field included.
    """

    id: str
    status: TaskStatus
    task: str | None = None
    output: str | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None
    steps: int = 0
    step_details: tuple[RemoteStep, ...] = ()
    live_url: str | None = None
    public_share_url: str | None = None
    metadata: Mapping[str, Any] = attrs.field(default=_EMPTY, converter=_frozen_mapping)
    output_files: tuple[str, ...] = ()
    raw: Mapping[str, Any] = attrs.field(
        default=_EMPTY, converter=_frozen_mapping, eq=False, repr=False
    )


@attrs.frozen
class TaskSummary:
    """One item of ``GET /api/v1/tasks``."""

    id: str
    status: TaskStatus
    task: str | None = None
    output: str | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None
    live_url: str | None = None


@attrs.frozen
class TaskPage:
    """One page of ``GET /api/v1/tasks``, newest first."""

    tasks: tuple[TaskSummary, ...]
    page: int
    limit: int
    total_pages: int
    total_count: int


# readers ---------------------------------------------------------------------------------


def parse_status(body: object) -> TaskStatus:
    """A bare JSON status string (``GET .../status``) as a ``TaskStatus``."""
    return _status(body, "status")


def parse_created(body: object) -> str:
    """The task id from run-task's ``{"id": "task_..."}``."""
    data = _object(body, "$")
    return _id(data.get("id"), "id")


def parse_task_view(body: object) -> TaskView:
    """The v1 task view; ``ProtocolError`` names the first field that does not fit."""
    data = _object(body, "$")
    raw_steps = data.get("steps")
    details: tuple[RemoteStep, ...] = ()
    if raw_steps is None:
        count = 0
    elif isinstance(raw_steps, list):
        details = tuple(_step(item, i) for i, item in enumerate(raw_steps))
        count = len(details)
    elif type(raw_steps) is int and raw_steps >= 0:  # a count instead of the list
        count = raw_steps
    else:
        raise _bad("steps", "must be a list of step objects")
    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise _bad("metadata", "must be an object")
    files = data.get("output_files")
    if files is not None and not (isinstance(files, list) and all(_is_text(f) for f in files)):
        raise _bad("output_files", "must be a list of strings")
    return TaskView(
        id=_id(data.get("id"), "id"),
        status=_status(data.get("status"), "status"),
        task=_text(data, "task"),
        output=_text(data, "output"),
        created_at=_time(data, "created_at"),
        finished_at=_time(data, "finished_at"),
        steps=count,
        step_details=details,
        live_url=_text(data, "live_url"),
        public_share_url=_text(data, "public_share_url"),
        metadata=metadata or {},
        output_files=tuple(files or ()),
        raw=data,
    )


def parse_page(body: object) -> TaskPage:
    """One page of ``GET /api/v1/tasks``."""
    data = _object(body, "$")
    items = data.get("tasks")
    if not isinstance(items, list):
        raise _bad("tasks", "must be a list")
    tasks = tuple(_summary(item, i) for i, item in enumerate(items))
    return TaskPage(
        tasks=tasks,
        page=_count(data, "page"),
        limit=_count(data, "limit"),
        total_pages=_count(data, "total_pages"),
        total_count=_count(data, "total_count"),
    )


# writers ---------------------------------------------------------------------------------


def run_task_body(
    task: object,
    *,
    llm_model: str | None = None,
    max_agent_steps: int | None = None,
    metadata: Mapping[str, str] | None = None,
    allowed_domains: Sequence[str] | None = None,
    secrets: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The run-task JSON body, checked before any request (``InvalidTaskData`` if wrong).

    Only the options given are sent, so the remote's defaults apply to the rest.
    """
    if not isinstance(task, str) or not task.strip():
        raise InvalidTaskData("task", "must be a non-empty string")
    body: dict[str, Any] = {"task": task}
    if llm_model is not None:
        if not _is_text(llm_model) or not llm_model:
            raise InvalidTaskData("llm_model", "must be a non-empty string")
        body["llm_model"] = llm_model
    if max_agent_steps is not None:
        if type(max_agent_steps) is not int or not 1 <= max_agent_steps <= MAX_AGENT_STEPS:
            raise InvalidTaskData("max_agent_steps", f"must be an int from 1 to {MAX_AGENT_STEPS}")
        body["max_agent_steps"] = max_agent_steps
    if metadata is not None:
        body["metadata"] = _pairs(metadata, "metadata", limit=10)
    if secrets is not None:
        body["secrets"] = _pairs(secrets, "secrets", limit=None)
    if allowed_domains is not None:
        if isinstance(allowed_domains, str) or not all(_is_text(d) for d in allowed_domains):
            raise InvalidTaskData("allowed_domains", "must be a list of strings")
        body["allowed_domains"] = list(allowed_domains)
    return body


# internals -------------------------------------------------------------------------------


def _bad(field: str, problem: str) -> ProtocolError:
    return ProtocolError(f"unexpected response: {field} {problem}", may_have_reached_server=True)


def _is_text(value: object) -> bool:
    return isinstance(value, str)


def _pairs(value: object, field: str, limit: int | None) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidTaskData(field, "must map strings to strings")
    if limit is not None and len(value) > limit:
        raise InvalidTaskData(field, f"must hold at most {limit} pairs, not {len(value)}")
    return dict(value)


def _object(body: object, field: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _bad(field, f"must be a JSON object, not {type(body).__name__}")
    return body


def _status(value: object, field: str) -> TaskStatus:
    status = _STATUSES.get(value) if isinstance(value, str) else None
    if status is None:
        shown = repr(value)[:60]
        raise _bad(field, f"{shown} is not a known status ({', '.join(_STATUSES)})")
    return status


def _id(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise _bad(field, "must be a non-empty string")
    return value


def _text(data: Mapping[str, Any], field: str) -> str | None:
    value = data.get(field)
    if value is not None and not isinstance(value, str):
        raise _bad(field, f"must be a string or null, not {type(value).__name__}")
    return value


def _time(data: Mapping[str, Any], field: str) -> datetime | None:
    value = _text(data, field)
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise _bad(field, f"{value[:40]!r} is not an ISO 8601 timestamp") from None
    return at.replace(tzinfo=UTC) if at.utcoffset() is None else at.astimezone(UTC)


def _count(data: Mapping[str, Any], field: str) -> int:
    value = data.get(field)
    if type(value) is not int or value < 0:
        raise _bad(field, "must be a non-negative integer")
    return value


def _step(item: object, index: int) -> RemoteStep:
    data = _object(item, f"steps[{index}]")
    number = data.get("step", index + 1)
    if type(number) is not int:
        raise _bad(f"steps[{index}].step", "must be an integer")
    return RemoteStep(
        step=number,
        id=_text(data, "id"),
        evaluation_previous_goal=_text(data, "evaluation_previous_goal"),
        next_goal=_text(data, "next_goal"),
        url=_text(data, "url"),
    )


def _summary(item: object, index: int) -> TaskSummary:
    data = _object(item, f"tasks[{index}]")
    return TaskSummary(
        id=_id(data.get("id"), f"tasks[{index}].id"),
        status=_status(data.get("status"), f"tasks[{index}].status"),
        task=_text(data, "task"),
        output=_text(data, "output"),
        created_at=_time(data, "created_at"),
        finished_at=_time(data, "finished_at"),
        live_url=_text(data, "live_url"),
    )
