"""The v1 records (task view, step, summary, page, run-task request), each with one reader from
JSON and one writer to JSON, and the limits and defaults of the API.

Readers take decoded JSON and raise ``ProtocolError`` for anything that is not the documented
shape (a missing ``id``, a status outside ``TaskStatus``, a timestamp that is no ISO 8601 or has
no UTC equivalent, a list where an object belongs, a count beyond ``MAX_COUNT``). Unknown extra
fields are ignored (the remote may add some); a view keeps its whole decoded body as ``raw``.
Writers give exactly the JSON the v1 API (and ``tasklife serve``) answers with, so
``read(write(record)) == record``. The run-task request is the one exception to the error
class: it is what a *caller* sends, so its reader raises ``InvalidArgument`` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, TypedDict, Unpack, cast

import attrs

from tasklife.errors import InvalidArgument, check_options, positive_int
from tasklife.lifecycle import TaskStatus
from tasklife.task import Task, check_id
from tasklife.v1.errors import ProtocolError

MAX_AGENT_STEPS: Final = 200
"""The upper bound of ``max_agent_steps`` in run-task."""
DEFAULT_MAX_AGENT_STEPS: Final = 75
"""``max_agent_steps`` when run-task does not say."""
DEFAULT_LLM_MODEL: Final = "gpt-4o"
"""``llm_model`` when run-task does not say."""
MAX_METADATA_PAIRS: Final = 10
"""How many key-value pairs run-task's ``metadata`` may hold."""
DEFAULT_PAGE_LIMIT: Final = 10
"""``limit`` of ``GET /api/v1/tasks`` when the query does not say."""
MAX_PAGE_LIMIT: Final = 100
"""The largest ``limit`` of ``GET /api/v1/tasks``."""
MAX_COUNT: Final = 2**53 - 1
"""The largest count (steps, pages, totals) a reader accepts: JSON's exact-integer range."""

_STATUSES: Final = cast("dict[str, TaskStatus]", TaskStatus._value2member_map_)
_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})


def _frozen(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


def _frozen_or_none(value: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    return None if value is None else _frozen(value)


# limits and page arithmetic ----------------------------------------------------------------


def check_page(page: object, limit: object) -> None:
    """Raise ``InvalidArgument`` unless ``page`` >= 1 and 1 <= ``limit`` <= ``MAX_PAGE_LIMIT``."""
    positive_int("page", page)
    positive_int("limit", limit, most=MAX_PAGE_LIMIT)


def page_slice(page: int, limit: int) -> slice:
    """The items of page ``page`` (from 1) of ``limit`` items, as a slice of the whole list."""
    return slice((page - 1) * limit, page * limit)


def total_pages(total: int, limit: int) -> int:
    """How many pages of ``limit`` items ``total`` items fill (0 when there are none)."""
    return -(-total // limit)


# records ---------------------------------------------------------------------------------


@attrs.frozen
class RemoteStep:
    """One step object of the v1 task view (``steps[i]``)."""

    step: int
    id: str | None = None
    evaluation_previous_goal: str | None = None
    next_goal: str | None = None
    url: str | None = None


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
class TaskView(TaskSummary):
    """The v1 task view (``GET /api/v1/task/{task_id}``): a summary's fields and the details.

    ``steps`` is the number of steps taken (what ``Task.steps`` mirrors); ``step_details``
    holds the step objects themselves. ``raw`` is the decoded body a reader read, every field
    included (empty for a view built here).
    """

    steps: int = 0
    step_details: tuple[RemoteStep, ...] = ()
    public_share_url: str | None = None
    metadata: Mapping[str, Any] = attrs.field(default=_EMPTY, converter=_frozen)
    output_files: tuple[str, ...] = ()
    user_uploaded_files: tuple[str, ...] = ()
    browser_data: Mapping[str, Any] | None = attrs.field(default=None, converter=_frozen_or_none)
    llm_model: str | None = None
    max_agent_steps: int | None = None
    raw: Mapping[str, Any] = attrs.field(default=_EMPTY, converter=_frozen, eq=False, repr=False)


@attrs.frozen
class TaskPage:
    """One page of ``GET /api/v1/tasks``, newest first."""

    tasks: tuple[TaskSummary, ...]
    page: int
    limit: int
    total_pages: int
    total_count: int


class RunTaskOptions(TypedDict, total=False):
    """run-task's options besides the task text; an option left out (or None) is not sent."""

    llm_model: str | None
    max_agent_steps: int | None
    metadata: Mapping[str, str] | None
    allowed_domains: Sequence[str] | None
    secrets: Mapping[str, str] | None


_SUMMARY_FIELDS: Final = attrs.fields(TaskSummary)


@attrs.frozen
class RunTaskRequest:
    """A checked run-task request (``POST /api/v1/run-task``); None: not given.

    Build one with ``RunTaskRequest.of(task, **options)`` or ``read_run_task(body)``; both
    raise ``InvalidArgument`` naming the field. ``secrets`` never shows in the repr.
    """

    task: str
    llm_model: str | None = None
    max_agent_steps: int | None = None
    metadata: Mapping[str, str] | None = attrs.field(default=None, converter=_frozen_or_none)
    allowed_domains: tuple[str, ...] | None = None
    secrets: Mapping[str, str] | None = attrs.field(
        default=None, converter=_frozen_or_none, repr=False
    )

    @classmethod
    def of(cls, task: object, **options: Unpack[RunTaskOptions]) -> RunTaskRequest:
        """The request for ``task`` with ``options`` (checked: ``InvalidArgument`` if wrong)."""
        check_options(options, RunTaskOptions.__annotations__, "run-task")
        given = {name: value for name, value in options.items() if value is not None}
        return read_run_task({"task": task, **given})


# builders ----------------------------------------------------------------------------------


def task_view(
    task: Task,
    *,
    text: str,
    output: str | None = None,
    finished_at: datetime | None = None,
    metadata: Mapping[str, str] | None = None,
    llm_model: str = DEFAULT_LLM_MODEL,
    max_agent_steps: int = DEFAULT_MAX_AGENT_STEPS,
) -> TaskView:
    """The v1 view of ``task`` with the v1 fields the domain does not hold.

    The step objects are synthesised from the step counter (the simulated service has no real
    agent steps); the fields it has no value for are empty, as the v1 API leaves them.
    """
    steps = task.steps
    return TaskView(
        id=task.id,
        status=task.status,
        task=text,
        output=output,
        created_at=task.created_at,
        finished_at=finished_at,
        steps=steps,
        step_details=tuple(
            RemoteStep(
                step=n,
                id=f"{task.id}_step_{n}",
                evaluation_previous_goal="Unknown - first step" if n == 1 else "Success",
                next_goal=f"Simulated step {n} of {max_agent_steps}",
                url="about:blank",
            )
            for n in range(1, steps + 1)
        ),
        metadata=metadata or {},
        llm_model=llm_model,
        max_agent_steps=max_agent_steps,
    )


def summary_of(view: TaskView) -> TaskSummary:
    """What ``GET /api/v1/tasks`` shows of the task ``view`` shows."""
    return TaskSummary(**{field.name: getattr(view, field.name) for field in _SUMMARY_FIELDS})


def task_page(items: Sequence[TaskSummary], *, page: int, limit: int, total: int) -> TaskPage:
    """Page ``page`` of ``total`` tasks, ``limit`` a page, holding ``items``."""
    return TaskPage(tuple(items), page, limit, total_pages(total, limit), total)


# readers -----------------------------------------------------------------------------------


def read_status(body: object) -> TaskStatus:
    """A bare JSON status string (``GET .../status``) as a ``TaskStatus``."""
    return _status(body, "status")


def read_created(body: object) -> str:
    """The task id from run-task's ``{"id": "task_..."}`` (a valid tasklife id)."""
    value = _object(body, "$").get("id")
    try:
        return check_id(value, "id")
    except ValueError as error:
        raise _bad("id", f"is not a usable task id ({error})") from None


def read_task_view(body: object) -> TaskView:
    """The v1 task view; ``ProtocolError`` names the first field that does not fit."""
    data = _object(body, "$")
    raw_steps = data.get("steps")
    details: tuple[RemoteStep, ...] = ()
    if raw_steps is None:
        count = 0
    elif isinstance(raw_steps, list):
        details = tuple(_step(item, i) for i, item in enumerate(raw_steps))
        count = len(details)
    elif type(raw_steps) is int and 0 <= raw_steps <= MAX_COUNT:  # a count instead of the list
        count = raw_steps
    else:
        raise _bad("steps", "must be a list of step objects")
    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise _bad("metadata", "must be an object")
    browser_data = data.get("browser_data")
    if browser_data is not None and not isinstance(browser_data, dict):
        raise _bad("browser_data", "must be an object")
    steps_limit = data.get("max_agent_steps")
    if steps_limit is not None:
        steps_limit = _count(data, "max_agent_steps")
    return TaskView(
        **attrs.asdict(_summary(data, ""), recurse=False),
        steps=count,
        step_details=details,
        public_share_url=_text(data, "public_share_url"),
        metadata=metadata or {},
        output_files=_texts(data, "output_files"),
        user_uploaded_files=_texts(data, "user_uploaded_files"),
        browser_data=browser_data,
        llm_model=_text(data, "llm_model"),
        max_agent_steps=steps_limit,
        raw=data,
    )


def read_summary(body: object) -> TaskSummary:
    """One item of ``GET /api/v1/tasks``."""
    return _summary(_object(body, "$"), "")


def read_page(body: object) -> TaskPage:
    """One page of ``GET /api/v1/tasks``."""
    data = _object(body, "$")
    items = data.get("tasks")
    if not isinstance(items, list):
        raise _bad("tasks", "must be a list")
    return TaskPage(
        tasks=tuple(_summary(_object(item, f"tasks[{i}]"), f"tasks[{i}].") for i, item in
                    enumerate(items)),
        page=_count(data, "page"),
        limit=_count(data, "limit"),
        total_pages=_count(data, "total_pages"),
        total_count=_count(data, "total_count"),
    )  # fmt: skip


def read_run_task(body: object) -> RunTaskRequest:
    """A run-task JSON body, checked field by field (``InvalidArgument`` names the first bad one).

    Absent or null options stay None, so the remote's defaults apply to them.
    """
    if not isinstance(body, Mapping):
        raise InvalidArgument("body", "must be a JSON object")
    task = body.get("task")
    if not isinstance(task, str) or not task.strip():
        raise InvalidArgument("task", "must be a non-empty string")
    check_text(task, "task")
    llm_model = body.get("llm_model")
    if llm_model is not None and (not isinstance(llm_model, str) or not llm_model):
        raise InvalidArgument("llm_model", "must be a non-empty string")
    if llm_model is not None:
        check_text(llm_model, "llm_model")
    steps = body.get("max_agent_steps")
    if steps is not None:
        positive_int("max_agent_steps", steps, most=MAX_AGENT_STEPS)
    domains = body.get("allowed_domains")
    if domains is not None:
        if isinstance(domains, str | bytes) or not isinstance(domains, Sequence):
            raise InvalidArgument("allowed_domains", "must be a list of strings")
        domains = tuple(domains)
        for domain in domains:
            if not isinstance(domain, str):
                raise InvalidArgument("allowed_domains", "must be a list of strings")
            check_text(domain, "allowed_domains")
    return RunTaskRequest(
        task=task,
        llm_model=llm_model,
        max_agent_steps=steps,
        metadata=_pairs(body.get("metadata"), "metadata", MAX_METADATA_PAIRS),
        allowed_domains=domains,
        secrets=_pairs(body.get("secrets"), "secrets", None),
    )


# writers -----------------------------------------------------------------------------------


def task_view_to_json(view: TaskView) -> dict[str, Any]:
    """The v1 task view as JSON, every key in the order the v1 API (and ``tasklife serve``) uses."""
    steps: int | list[dict[str, Any]] = view.steps
    if len(view.step_details) == view.steps:
        steps = [attrs.asdict(step) for step in view.step_details]
    written = summary_to_json(view)
    del written["live_url"]  # it comes after the steps in the view
    return {
        **written,
        "steps": steps,
        "live_url": view.live_url,
        "browser_data": None if view.browser_data is None else dict(view.browser_data),
        "user_uploaded_files": list(view.user_uploaded_files),
        "output_files": list(view.output_files),
        "public_share_url": view.public_share_url,
        "metadata": dict(view.metadata),
        "llm_model": view.llm_model,
        "max_agent_steps": view.max_agent_steps,
    }


def summary_to_json(summary: TaskSummary) -> dict[str, Any]:
    """One item of ``GET /api/v1/tasks`` as JSON."""
    return {
        "id": summary.id,
        "task": summary.task,
        "output": summary.output,
        "status": summary.status._value_,
        "created_at": _iso(summary.created_at),
        "finished_at": _iso(summary.finished_at),
        "live_url": summary.live_url,
    }


def page_to_json(page: TaskPage) -> dict[str, Any]:
    """``GET /api/v1/tasks`` as JSON."""
    return {
        "tasks": [summary_to_json(item) for item in page.tasks],
        "total_pages": page.total_pages,
        "page": page.page,
        "limit": page.limit,
        "total_count": page.total_count,
    }


def run_task_to_json(request: RunTaskRequest) -> dict[str, Any]:
    """The run-task body: ``task`` and only the options given."""
    body: dict[str, Any] = {"task": request.task}
    if request.llm_model is not None:
        body["llm_model"] = request.llm_model
    if request.max_agent_steps is not None:
        body["max_agent_steps"] = request.max_agent_steps
    if request.metadata is not None:
        body["metadata"] = dict(request.metadata)
    if request.secrets is not None:
        body["secrets"] = dict(request.secrets)
    if request.allowed_domains is not None:
        body["allowed_domains"] = list(request.allowed_domains)
    return body


# internals -------------------------------------------------------------------------------


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _bad(field: str, problem: str) -> ProtocolError:
    return ProtocolError(f"unexpected response: {field} {problem}", may_have_reached_server=True)


def check_text(value: object, argument: str) -> str:
    """``value`` if it is a string UTF-8 can encode, else ``InvalidArgument(argument)``.

    Every string a request carries, and every string the server stores, goes through here: a
    lone surrogate (which JSON can carry as ``"\\ud800"``) cannot be sent, and once stored
    would make every answer that holds it fail.
    """
    if not isinstance(value, str):
        raise InvalidArgument(argument, f"must be a string, not {type(value).__name__}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise InvalidArgument(
                argument,
                f"must be valid Unicode (no lone surrogates): a character UTF-8 cannot encode "
                f"at position {error.start}",
            ) from None
    return value


def _pairs(value: object, field: str, limit: int | None) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidArgument(field, "must map strings to strings")
    if limit is not None and len(value) > limit:
        raise InvalidArgument(field, f"must hold at most {limit} pairs, not {len(value)}")
    for key, item in value.items():
        check_text(key, field)
        check_text(item, field)
    return dict(value)


def _object(body: object, field: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _bad(field, f"must be a JSON object, not {type(body).__name__}")
    return body


def _status(value: object, field: str) -> TaskStatus:
    status = _STATUSES.get(value) if isinstance(value, str) else None
    if status is None:
        shown = repr(value)[:60] if isinstance(value, str) else type(value).__name__
        raise _bad(field, f"{shown} is not a known status ({', '.join(_STATUSES)})")
    return status


def _text(data: Mapping[str, Any], field: str) -> str | None:
    value = data.get(field)
    if value is not None and not isinstance(value, str):
        raise _bad(field, f"must be a string or null, not {type(value).__name__}")
    return value


def _texts(data: Mapping[str, Any], field: str) -> tuple[str, ...]:
    value = data.get(field)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _bad(field, "must be a list of strings")
    return tuple(value)


def _time(data: Mapping[str, Any], field: str) -> datetime | None:
    value = _text(data, field)
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
        return at.replace(tzinfo=UTC) if at.utcoffset() is None else at.astimezone(UTC)
    except ValueError:
        raise _bad(field, f"{value[:40]!r} is not an ISO 8601 timestamp") from None
    except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC equivalent
        raise _bad(field, f"{value[:40]!r} has no UTC equivalent") from None


def _count(data: Mapping[str, Any], field: str) -> int:
    value = data.get(field)
    if type(value) is not int or not 0 <= value <= MAX_COUNT:
        raise _bad(field, f"must be an integer from 0 to {MAX_COUNT}")
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


def _summary(data: dict[str, Any], where: str) -> TaskSummary:
    value = data.get("id")
    if not isinstance(value, str) or not value:
        raise _bad(f"{where}id", "must be a non-empty string")
    return TaskSummary(
        id=value,
        status=_status(data.get("status"), f"{where}status"),
        task=_text(data, "task"),
        output=_text(data, "output"),
        created_at=_time(data, "created_at"),
        finished_at=_time(data, "finished_at"),
        live_url=_text(data, "live_url"),
    )
