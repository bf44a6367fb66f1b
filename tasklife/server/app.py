"""``create_app``: the Browser Use v1-compatible FastAPI app over a SQL task store.

Endpoints (all but ``/api/v1/ping`` need ``Authorization: Bearer <key>``):

======  =====================================  ==================================================
PUT     /api/v1/pause-task?task_id=            200 ``{}``
PUT     /api/v1/resume-task?task_id=           200 ``{}``
PUT     /api/v1/stop-task?task_id=             200 ``{}`` (also on an already terminal task)
POST    /api/v1/run-task                       200 ``{"id": "task_..."}``; the task starts running
GET     /api/v1/task/{task_id}                 the v1 task view
GET     /api/v1/task/{task_id}/status          a bare JSON string, e.g. ``"paused"``
GET     /api/v1/tasks?page=1&limit=10          newest first, ``limit`` at most 100
GET     /api/v1/ping                           ``{"status": "ok"}`` (no key needed)
POST    /emulator/v1/task/{task_id}/advance    ``?steps=N``: N steps of progress (running only)
POST    /emulator/v1/task/{task_id}/finish     finish a running task now
POST    /emulator/v1/task/{task_id}/fail       ``?reason=``: fail the task now
GET     /emulator/v1/task/{task_id}/history    every transition record, version and token
======  =====================================  ==================================================

The ``/emulator/v1`` endpoints do not exist on the real service; they drive the simulated
execution deterministically (with ``step_seconds=0`` nothing moves by itself).

Errors: an unknown task, or another key's task, is 404 ``{"detail": "Task not found"}``; an
action the lifecycle refuses is 409 with the domain error's message; a missing or wrong key is
401; invalid parameters (a missing ``task_id``, an id that is no valid task id, ...) are 422 in
the pydantic-v1 shape ``{"detail": [{"loc": [...], "msg": ..., "type": ...}]}``; a body over
``max_body_bytes`` is 413; a store that cannot be written is 503.

The app is the HTTP entry point over ``tasklife.service.TaskService`` (the use cases), which
knows nothing of HTTP; the v1 routes are ``tasklife.v1``'s (the transports call the same ones).
Endpoints are ``async def`` and await the service, which runs the
requests that arrived together in one transaction (group commit: see
``tasklife.service.writer``; on SQLite the event loop runs each batch itself). Answers that
can be large (a task view, a page, a history) are built and encoded off the event loop, within
a memory bound (``tasklife.server.answers``). The ticker runs in its own thread.
"""

import hashlib
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from enum import Enum
from typing import Annotated, Any, Final

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from tasklife.errors import (
    InvalidArgument,
    InvalidTaskData,
    InvalidTransition,
    TaskNotRunning,
    positive_int,
)
from tasklife.lifecycle import Action
from tasklife.server.answers import JSONAnswer, PageAnswer, PageLimits, off_loop, page_chunks
from tasklife.server.middleware import (
    DEFAULT_MAX_BODY_BYTES,
    OWNER_SCOPE_KEY,
    UNAUTHORIZED_BODY,
    ApiKeys,
    RequestGuard,
    checked_keys,
)
from tasklife.server.validation import v1_errors
from tasklife.service import ServiceTask, TaskService, Ticker, check_text
from tasklife.service.tables import SQLStore
from tasklife.store import StoreConflict, StoreError
from tasklife.task import Clock, check_id, utc_now
from tasklife.v1 import (
    ACTION_ROUTES,
    DEFAULT_LLM_MODEL,
    DEFAULT_MAX_AGENT_STEPS,
    MAX_AGENT_STEPS,
    MAX_METADATA_PAIRS,
    RUN_TASK_ROUTE,
    STATUS_ROUTE,
    TASK_NOT_FOUND,
    TASK_ROUTE,
    TASKS_ROUTE,
    TaskNotFound,
    task_view_to_json,
)

__all__ = ["create_app", "key_fingerprint"]

_EMPTY: Final = b"{}"
_JSON: Final = "application/json"
_NOT_FOUND: Final = {"detail": TASK_NOT_FOUND}
_PING: Final = "/api/v1/ping"
_EMULATOR: Final = "/emulator/v1"
PUBLIC_PATHS: Final = frozenset(
    {_PING, "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
)
"""Paths served without a key; every other path needs ``Authorization: Bearer <key>``."""


def key_fingerprint(api_key: str) -> str:
    """The owner id stored for tasks created with ``api_key``: its SHA-256, in hex."""
    return hashlib.sha256(api_key.encode()).hexdigest()


class _Unauthorized(Exception):
    """No valid bearer key came with the request."""


class _BadParameter(Exception):
    """A parameter FastAPI accepted but the domain refuses (a malformed task id)."""

    def __init__(self, loc: tuple[str, ...], error: InvalidTaskData) -> None:
        self.loc = loc
        self.error = error


def _encodable(value: str) -> str:
    try:
        return check_text(value, "value")
    except InvalidArgument:
        raise PydanticCustomError("string_unicode", _UNENCODABLE) from None


_UNENCODABLE: Final = "Input should be a valid string, unable to parse raw data as a unicode string"
Text = Annotated[str, AfterValidator(_encodable)]
"""A string of a request body: one UTF-8 can encode (a lone surrogate is a 422, never stored)."""


class RunTaskRequest(BaseModel):
    """The v1 run-task body; fields the emulator has no use for are accepted and dropped.

    ``secrets`` are accepted for compatibility and never stored.
    """

    model_config = ConfigDict(extra="ignore")

    task: Text = Field(min_length=1, description="What the agent should do.")
    llm_model: Text = DEFAULT_LLM_MODEL
    max_agent_steps: int = Field(DEFAULT_MAX_AGENT_STEPS, ge=1, le=MAX_AGENT_STEPS)
    metadata: dict[Text, Text] | None = Field(None, max_length=MAX_METADATA_PAIRS)
    secrets: dict[Text, Text] | None = None
    allowed_domains: list[Text] | None = None


def create_app(
    store: SQLStore,
    api_keys: str | Iterable[str],
    *,
    step_seconds: float = 1.0,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    access_log: bool = False,
    clock: Clock = utc_now,
) -> FastAPI:
    """A FastAPI app serving the Browser Use v1 task API from ``store``.

    ``store`` is a ``SQLiteTaskStore`` or a ``PostgresTaskStore``; the service's own tables are
    created beside the store's (an old ``tasklife serve`` file is moved into them) before this
    returns. Several apps (in several processes) on one database act as one service.

    ``api_keys`` are the accepted bearer keys; each key sees only the tasks created with it.
    A key no client could send (empty, whitespace around it, a control or non-ASCII
    character) is refused with ``InvalidArgument``.
    ``step_seconds`` is the simulated execution's pace (one step per running task per tick);
    0 turns it off, leaving the ``/emulator/v1`` endpoints to move tasks. The ticker runs in
    the app's lifespan, so a host that mounts this app must run its lifespan (or call
    ``app.state.service.tick()`` itself). The caller owns ``store`` and closes it.
    """
    keys = checked_keys(api_keys)
    positive_int("max_body_bytes", max_body_bytes, zero=True)
    accepted = ApiKeys(keys, key_fingerprint)
    service = TaskService(store, clock=clock, step_seconds=step_seconds).open()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ticker = Ticker(service, step_seconds) if step_seconds > 0 else None
        if ticker is not None:
            ticker.start()
        try:
            yield
        finally:
            if ticker is not None:
                ticker.stop()
            service.close()

    app = FastAPI(
        title="tasklife",
        summary="A local Browser Use Cloud API v1-compatible server built on the tasklife core.",
        lifespan=lifespan,
        redirect_slashes=False,  # v1 answers 404 for a trailing slash; no 307 detours
    )
    app.state.service = service
    # On the app itself, not through include_router: an included router is one more layer of
    # matching and dispatch on every request.
    _api(app.router, service)
    _emulator(app.router, service)
    _install_error_handlers(app)
    app.add_middleware(
        RequestGuard,
        keys=accepted,
        public_paths=PUBLIC_PATHS,
        max_body_bytes=max_body_bytes,
        access_log=access_log,
    )
    return app


def _owner(request: Request) -> str:
    """The owner ``RequestGuard`` authenticated for this request."""
    owner: str | None = request.scope.get(OWNER_SCOPE_KEY)
    if owner is None:  # only when the app runs without its own middleware
        raise _Unauthorized
    return owner


def _api(router: APIRouter, service: TaskService) -> None:
    """The Browser Use v1 endpoints, on ``router``."""
    page_limits = PageLimits()
    query_id = Annotated[str, Query(description="ID of the task")]

    async def act(who: str, task_id: str, action: Action) -> Response:
        await service.act_async(who, _task_id(task_id, "query"), action)
        return Response(_EMPTY, media_type=_JSON)

    @router.put(ACTION_ROUTES[Action.PAUSE])
    async def pause_task(task_id: query_id, request: Request) -> Response:
        """Pause a running task; its step counter is kept."""
        return await act(_owner(request), task_id, Action.PAUSE)

    @router.put(ACTION_ROUTES[Action.RESUME])
    async def resume_task(task_id: query_id, request: Request) -> Response:
        """Resume a paused task from the step where it was paused; a stopped task is 409."""
        return await act(_owner(request), task_id, Action.RESUME)

    @router.put(ACTION_ROUTES[Action.STOP])
    async def stop_task(task_id: query_id, request: Request) -> Response:
        """Stop a task irreversibly; on an already finished, failed or stopped task, a no-op."""
        return await act(_owner(request), task_id, Action.STOP)

    @router.post(RUN_TASK_ROUTE)
    async def run_task(body: RunTaskRequest, request: Request) -> JSONAnswer:
        """Create a task; it starts running at once."""
        record = await service.run_task_async(
            _owner(request),
            body.task,
            llm_model=body.llm_model,
            max_agent_steps=body.max_agent_steps,
            metadata=body.metadata,
        )
        return JSONAnswer({"id": record.id})

    @router.get(TASK_ROUTE)
    async def get_task(task_id: str, request: Request) -> Response:
        """The v1 task view, with one step object per step taken."""
        owner, checked = _owner(request), _task_id(task_id, "path")
        return await off_loop(lambda: service.read(owner, checked, _task_view))

    @router.get(STATUS_ROUTE)
    async def get_task_status(task_id: str, request: Request) -> Response:
        """The task's status as a bare JSON string."""
        status = await service.status_async(_owner(request), _task_id(task_id, "path"))
        return Response(f'"{status.value}"'.encode(), media_type=_JSON)

    @router.get(TASKS_ROUTE)
    async def list_tasks(
        request: Request,
        page: Annotated[int, Query(ge=1)] = 1,
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
    ) -> PageAnswer:
        """The key's tasks, newest first."""
        owner = _owner(request)
        return PageAnswer(
            lambda: page_chunks(service.page(owner, page, limit)),
            page_limits.of(owner),
        )

    @router.get(_PING)
    async def ping() -> JSONAnswer:
        """Liveness: answers without a key."""
        return JSONAnswer({"status": "ok"})


def _emulator(router: APIRouter, service: TaskService) -> None:
    """The emulator-only endpoints that move the simulated execution by hand, on ``router``."""
    emulator: list[str | Enum] = ["emulator"]

    @router.post(_EMULATOR + "/task/{task_id}/advance", tags=emulator)
    async def emulator_advance(
        task_id: str,
        request: Request,
        steps: Annotated[int, Query(ge=1, le=MAX_AGENT_STEPS)] = 1,
    ) -> JSONAnswer:
        """Take ``steps`` steps now (running tasks only); the task finishes at its limit."""
        owner, checked = _owner(request), _task_id(task_id, "path")
        return JSONAnswer(await service.advance_async(owner, checked, steps))

    @router.post(_EMULATOR + "/task/{task_id}/finish", tags=emulator)
    async def emulator_finish(task_id: str, request: Request) -> JSONAnswer:
        """Finish a running task now."""
        return JSONAnswer(await service.finish_async(_owner(request), _task_id(task_id, "path")))

    @router.post(_EMULATOR + "/task/{task_id}/fail", tags=emulator)
    async def emulator_fail(
        task_id: str,
        request: Request,
        reason: Annotated[str | None, Query(max_length=1000)] = None,
    ) -> JSONAnswer:
        """Fail a created, running or paused task now."""
        owner, checked = _owner(request), _task_id(task_id, "path")
        return JSONAnswer(await service.fail_async(owner, checked, reason))

    @router.get(_EMULATOR + "/task/{task_id}/history", tags=emulator)
    async def emulator_history(task_id: str, request: Request) -> Response:
        """The task's transition records, version and store revision."""
        owner, checked = _owner(request), _task_id(task_id, "path")
        return await off_loop(lambda: service.read(owner, checked, ServiceTask.history))


def _task_view(record: ServiceTask) -> dict[str, Any]:
    return task_view_to_json(record.view())


def _task_id(value: str, where: str) -> str:
    try:
        return check_id(value, "task_id")
    except InvalidTaskData as error:
        raise _BadParameter((where, "task_id"), error) from None


def _install_error_handlers(app: FastAPI) -> None:
    def detail(status: int, message: str) -> JSONAnswer:
        return JSONAnswer({"detail": message}, status_code=status)

    async def validation(request: Request, error: Exception) -> JSONAnswer:
        assert isinstance(error, RequestValidationError)  # noqa: S101 - registered for it
        return JSONAnswer({"detail": v1_errors(error.errors())}, status_code=422)

    async def bad_parameter(request: Request, error: Exception) -> JSONAnswer:
        assert isinstance(error, _BadParameter)  # noqa: S101 - registered for it
        body = [{"loc": list(error.loc), "msg": error.error.problem, "type": "value_error"}]
        return JSONAnswer({"detail": body}, status_code=422)

    async def invalid(request: Request, error: Exception) -> JSONAnswer:
        if isinstance(error, InvalidTaskData):
            loc = error.field.split(".")
        else:
            assert isinstance(error, InvalidArgument)  # noqa: S101 - registered for these two
            loc = error.argument.split(".")
        body = [{"loc": loc, "msg": error.problem, "type": "value_error"}]
        return JSONAnswer({"detail": body}, status_code=422)

    async def unauthorized(request: Request, error: Exception) -> Response:
        return Response(
            UNAUTHORIZED_BODY,
            status_code=401,
            media_type=_JSON,
            headers={"WWW-Authenticate": "Bearer"},
        )

    async def not_found(request: Request, error: Exception) -> JSONAnswer:
        return JSONAnswer(_NOT_FOUND, status_code=404)

    async def refused(request: Request, error: Exception) -> JSONAnswer:
        return detail(409, str(error))

    async def unavailable(request: Request, error: Exception) -> JSONAnswer:
        return detail(503, "The task store is unavailable; try again")

    handlers: dict[type[Exception], Any] = {
        RequestValidationError: validation,
        _BadParameter: bad_parameter,
        InvalidTaskData: invalid,
        InvalidArgument: invalid,
        _Unauthorized: unauthorized,
        TaskNotFound: not_found,
        InvalidTransition: refused,
        TaskNotRunning: refused,
        StoreConflict: refused,
        StoreError: unavailable,
        sqlite3.Error: unavailable,  # e.g. "database is locked" past the store's timeout
    }
    for kind, handler in handlers.items():
        app.add_exception_handler(kind, handler)
