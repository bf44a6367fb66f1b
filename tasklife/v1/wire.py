"""The v1 wire: paths, the request spec of each verb, and what an HTTP answer means.

A ``Request`` says everything a client needs to send one v1 call (method, target with every id
percent-encoded, JSON body, whether it is a write) and which reader turns the 200 answer into a
value. ``outcome(request, answer)`` maps any answer (status, headers, body bytes) to that value
or to a typed ``TransportError``: no bytes a server can send make it raise anything else
(invalid or deeply nested JSON, a huge number, a ``Retry-After`` date past year 9999, a 422
whose ``loc`` is no list all become ``ProtocolError`` or the status's own error).
"""

from __future__ import annotations

import email.utils
import ipaddress
import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, Generic, TypeVar, Unpack
from urllib.parse import quote

import attrs

from tasklife.errors import InvalidTaskData
from tasklife.lifecycle import LIFECYCLE, Action, TaskStatus
from tasklife.task import check_id
from tasklife.v1.errors import (
    ActionRefused,
    AuthError,
    ProtocolError,
    RateLimited,
    ServerError,
    TaskNotFound,
    TransportError,
    ValidationFailed,
)
from tasklife.v1.records import (
    RunTaskOptions,
    RunTaskRequest,
    TaskPage,
    TaskView,
    check_page,
    read_created,
    read_page,
    read_status,
    read_task_view,
    run_task_to_json,
)

T = TypeVar("T")

CLIENT_ACTIONS: Final = frozenset(r.action for r in LIFECYCLE.table if r.driver == "client")
"""The actions a client pushes (the table's ``driver`` column); the others are the remote's."""

RUN_TASK_ROUTE: Final = "/api/v1/run-task"
TASKS_ROUTE: Final = "/api/v1/tasks"
TASK_ROUTE: Final = "/api/v1/task/{task_id}"
STATUS_ROUTE: Final = "/api/v1/task/{task_id}/status"
ACTION_ROUTES: Final = {action: f"/api/v1/{action}-task" for action in CLIENT_ACTIONS}
"""``PUT`` route of each client action; the task id goes in the ``task_id`` query parameter."""

MAX_JSON_DEPTH: Final = 32
"""How deeply nested an answer's JSON may be (the v1 shapes need 4)."""

_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain"})


def quote_id(task_id: object) -> str:
    """``task_id`` checked and percent-encoded for a path segment or a query value.

    Everything but letters, digits and ``-_~`` is encoded, dots included, so no id (not even
    ``.`` or ``..``) can change the request's path or query.
    """
    return quote(check_id(task_id, "task_id"), safe="").replace(".", "%2E")


def is_loopback_host(host: str) -> bool:
    """True when ``host`` (a name or an address, as in a URL) is this machine's loopback."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@attrs.frozen
class Request(Generic[T]):
    """One v1 call: what to send, and the reader of its 200 answer's JSON."""

    method: str
    target: str
    """The path and query to append to the base URL, every id in it percent-encoded."""
    path: str
    """The path as errors show it: the route, with the id but without the query."""
    write: bool
    read: Callable[[Any], T] = attrs.field(repr=False)
    body: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    task_id: str | None = None


@attrs.frozen
class Answer:
    """An HTTP answer as it came: status, headers (lower-case names), the whole body."""

    status: int
    headers: Mapping[str, str]
    body: bytes = attrs.field(repr=False)


# the verbs --------------------------------------------------------------------------------


def push(task_id: str, action: Action) -> Request[None]:
    """``PUT /api/v1/{pause,resume,stop}-task?task_id=`` (answer: 200 ``{}``)."""
    route = ACTION_ROUTES.get(action)
    if route is None:
        try:
            route = ACTION_ROUTES.get(Action(action))
        except ValueError:
            raise InvalidTaskData("action", f"{action!r} is not an Action") from None
        if route is None:
            raise InvalidTaskData("action", f"{action} is the remote's; push pause, resume or stop")
    quoted = quote_id(task_id)
    return Request("PUT", f"{route}?task_id={quoted}", route, True, _ack, task_id=task_id)


def get_task(task_id: str) -> Request[TaskView]:
    """``GET /api/v1/task/{task_id}``: the v1 task view."""
    path = TASK_ROUTE.format(task_id=quote_id(task_id))
    return Request("GET", path, path, False, read_task_view, task_id=task_id)


def get_status(task_id: str) -> Request[TaskStatus]:
    """``GET /api/v1/task/{task_id}/status``: only the status (a bare JSON string)."""
    path = STATUS_ROUTE.format(task_id=quote_id(task_id))
    return Request("GET", path, path, False, read_status, task_id=task_id)


def list_tasks(*, page: int = 1, limit: int = 10) -> Request[TaskPage]:
    """``GET /api/v1/tasks?page=&limit=``: one page of tasks, newest first."""
    check_page(page, limit)
    return Request("GET", f"{TASKS_ROUTE}?page={page}&limit={limit}", TASKS_ROUTE, False, read_page)


def run_task(task: str, **options: Unpack[RunTaskOptions]) -> Request[str]:
    """``POST /api/v1/run-task``: create (and start) a task; the answer is its id.

    The arguments are checked first (``InvalidArgument`` naming the field); only the options
    given are sent, so the remote's defaults apply to the rest.
    """
    body = run_task_to_json(RunTaskRequest.of(task, **options))
    return Request("POST", RUN_TASK_ROUTE, RUN_TASK_ROUTE, True, read_created, body)


def _ack(body: object) -> None:
    """A push's answer: any JSON (v1 sends ``{}``)."""


# answers ------------------------------------------------------------------------------------


def decode(body: bytes) -> Any:
    """``body`` as JSON, or ``ProtocolError``: invalid, or nested deeper than ``MAX_JSON_DEPTH``."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        raise ProtocolError("the answer is not valid JSON", may_have_reached_server=True) from None
    if not _shallow(value):
        raise ProtocolError(
            f"the answer's JSON is nested deeper than {MAX_JSON_DEPTH} levels",
            may_have_reached_server=True,
        )
    return value


def outcome(request: Request[T], answer: Answer) -> T:
    """The value ``request`` asked for, read from ``answer``; or the typed error it means."""
    if answer.status != 200:
        raise _status_error(request, answer)
    kind = answer.headers.get("content-type", "")
    try:
        if not kind.startswith("application/json"):
            raise ProtocolError(f"expected a JSON answer, got content type {kind[:60]!r}")
        return request.read(decode(answer.body))
    except ProtocolError as error:
        raise ProtocolError(
            error.message, status_code=200, method=request.method, path=request.path,
            may_have_reached_server=True, task_id=request.task_id,
        ) from None  # fmt: skip


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` in seconds (a number, or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            seconds = (when - (now or datetime.now(UTC))).total_seconds()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def _status_error(request: Request[Any], answer: Answer) -> TransportError:
    """The typed error for a non-200 answer."""
    code = answer.status
    detail = _detail(answer.body)
    text = detail if isinstance(detail, str) else None
    cls: type[TransportError]
    reached = False
    if code in (401, 403):
        cls, message = AuthError, text or "the API key was refused"
    elif code == 404:
        cls, message = TaskNotFound, text or "not found"
    elif code in (400, 409):
        cls, message = ActionRefused, text or "the remote refused the action"
    elif code == 422:
        cls, message = ValidationFailed, "the remote rejected the parameters: " + _where(detail)
    elif code == 429:
        cls, message = RateLimited, text or "rate limited"
    elif 500 <= code <= 599:
        cls, message, reached = ServerError, text or "the server failed", True
    elif 200 <= code <= 299:
        cls, message, reached = ProtocolError, f"unexpected success status {code}", True
    else:
        cls, message = TransportError, text or "unexpected HTTP status"
    return cls(
        message[:500],
        status_code=code,
        detail=detail,
        method=request.method,
        path=request.path,
        may_have_reached_server=reached,
        retry_after=parse_retry_after(answer.headers.get("retry-after")),
        task_id=request.task_id,
    )


def _detail(body: bytes) -> Any:
    """The ``detail`` of an error body; None when the body is not a readable JSON object."""
    try:
        data = decode(body)
    except ProtocolError:
        return None
    return data.get("detail") if isinstance(data, dict) else None


def _where(detail: Any) -> str:
    """A 422 ``detail`` list in one line: ``query.task_id: field required; ...``."""
    if isinstance(detail, str):
        return detail[:200]
    if not isinstance(detail, list):
        return "see detail"
    parts = []
    for item in detail[:5]:
        if isinstance(item, dict):
            loc = item.get("loc")
            names = loc if isinstance(loc, list) else []
            where = ".".join(str(x) for x in names if isinstance(x, str | int)) or "?"
            msg = item.get("msg")
            parts.append(f"{where[:100]}: {msg[:100] if isinstance(msg, str) else '?'}")
    return "; ".join(parts) or "see detail"


def _shallow(value: Any) -> bool:
    """True when ``value`` (decoded JSON) nests at most ``MAX_JSON_DEPTH`` levels (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True
