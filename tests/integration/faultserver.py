"""A small Browser Use v1 server on 127.0.0.1 that misbehaves on cue (stdlib only).

Reusable by any test or tool that must see how a client copes with real HTTP faults::

    from integration.faultserver import FaultServer, Reply  # tests/ is on sys.path

    with FaultServer(api_key="k") as server:      # serving on a free loopback port
        task_id = server.add_task("task_1", status="running")
        server.script(Reply.error(503, "busy", retry_after="2"), Reply.drop())
        ...  # point a client at server.base_url
        server.requests[-1].request_line          # the raw request line, as received

API:

- ``FaultServer(api_key=None)`` -- a context manager (``start()``/``stop()`` also work);
  ``base_url`` is ``http://127.0.0.1:<port>``. With ``api_key`` set, requests without
  ``Authorization: Bearer <api_key>`` get 401.
- Without a script it serves canned v1 answers from a tiny in-memory model that follows the
  tasklife lifecycle table: ``PUT /api/v1/{pause,resume,stop}-task?task_id=`` (200 ``{}``,
  409 when refused, stop on a terminal task is a 200 no-op), ``POST /api/v1/run-task``
  (creates a running task), ``GET /api/v1/task/{id}``, ``GET /api/v1/task/{id}/status`` (a
  bare JSON string), ``GET /api/v1/tasks?page=&limit=``; 404 ``{"detail": "Task not found"}``
  for unknown tasks, the seed's 422 body when ``task_id`` is missing.
- ``script(*replies)`` queues ``Reply`` objects; each request takes the first queued reply
  whose ``path`` (if any) prefixes its path, else gets the canned answer. ``Reply`` kinds:
  ``json``, ``error`` (``{"detail": ...}``, optional ``Retry-After``), ``raw`` (any bytes and
  content type), ``drop`` (close the connection after reading the request, no answer),
  ``truncated`` (declares a longer body than it sends, then closes), ``slow`` (answer only
  after ``seconds``; released at once when the server stops), ``trickle`` (the answer one
  byte every ``seconds``, the status line and headers too with ``headers=True``), ``endless``
  (a chunked 200 whose body never ends), ``wire`` (exactly the given bytes as the whole
  answer, status line included, then close). With ``apply=True`` the canned handler runs
  first, so the request takes effect before the fault (an ambiguous failure as a client sees
  it).
- ``requests``: every request received (``Recorded``: method, raw target, path, query,
  headers, body, request line); ``tasks``: the model (``FakeTask`` records by id);
  ``pending()``: how many scripted replies are still queued; ``wait_for(path)``: block until
  a request for a path starting with ``path`` has arrived.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

import attrs

from tasklife.lifecycle import LIFECYCLE, Action, TaskStatus

__all__ = ["SEED_422", "FakeTask", "FaultServer", "Recorded", "Reply"]

SEED_422: dict[str, Any] = {
    "detail": [
        {"loc": ["query", "task_id"], "msg": "field required", "type": "value_error.missing"}
    ]
}
"""The 422 body of the resume-task seed (a missing ``task_id``)."""

_JSON = "application/json"


@attrs.frozen
class Reply:
    """One scripted answer (see the module docstring for the kinds)."""

    kind: str
    status: int = 200
    body: bytes = b""
    content_type: str = _JSON
    headers: tuple[tuple[str, str], ...] = ()
    path: str | None = None
    apply: bool = False
    seconds: float = 0.0

    @classmethod
    def json(
        cls,
        body: Any,
        status: int = 200,
        *,
        headers: Mapping[str, str] | None = None,
        path: str | None = None,
    ) -> Reply:
        """Answer ``body`` as JSON with ``status``."""
        return cls(
            "json", status, json.dumps(body).encode(), headers=tuple((headers or {}).items()),
            path=path,
        )  # fmt: skip

    @classmethod
    def error(
        cls,
        status: int,
        detail: Any = "error",
        *,
        retry_after: str | None = None,
        path: str | None = None,
        apply: bool = False,
    ) -> Reply:
        """Answer ``{"detail": detail}`` with ``status`` (and ``Retry-After`` if given)."""
        headers = (("Retry-After", retry_after),) if retry_after is not None else ()
        body = json.dumps({"detail": detail}).encode()
        return cls("json", status, body, headers=headers, path=path, apply=apply)

    @classmethod
    def raw(
        cls,
        body: bytes,
        status: int = 200,
        *,
        content_type: str = _JSON,
        path: str | None = None,
        apply: bool = False,
    ) -> Reply:
        """Answer exactly ``body`` with ``content_type`` (invalid JSON, HTML, ...)."""
        return cls("raw", status, body, content_type, path=path, apply=apply)

    @classmethod
    def drop(cls, *, path: str | None = None, apply: bool = False) -> Reply:
        """Read the request, then close the connection without answering."""
        return cls("drop", path=path, apply=apply)

    @classmethod
    def truncated(cls, body: bytes = b'{"id": "task_1", "sta', *, path: str | None = None) -> Reply:
        """Send a 200 declaring more bytes than ``body``, send ``body``, then close."""
        return cls("truncated", 200, body, path=path)

    @classmethod
    def slow(cls, seconds: float = 5.0, *, path: str | None = None, apply: bool = False) -> Reply:
        """Hold the answer back for ``seconds`` (beyond the client's timeout), then answer."""
        return cls("slow", path=path, apply=apply, seconds=seconds)

    @classmethod
    def trickle(
        cls,
        body: bytes = b'"running"',
        *,
        seconds: float = 0.2,
        headers: bool = False,
        path: str | None = None,
        apply: bool = False,
    ) -> Reply:
        """Answer 200 ``body`` one byte every ``seconds`` (the head too, with ``headers``)."""
        kind = "trickle-all" if headers else "trickle"
        return cls(kind, 200, body, path=path, apply=apply, seconds=seconds)

    @classmethod
    def endless(cls, *, path: str | None = None) -> Reply:
        """A chunked 200 whose body never ends (until the client leaves or the server stops)."""
        return cls("endless", path=path)

    @classmethod
    def wire(cls, data: bytes, *, path: str | None = None, apply: bool = False) -> Reply:
        """Write exactly ``data`` (status line, headers, body), then close the connection."""
        return cls("wire", body=data, path=path, apply=apply)


@attrs.frozen
class Recorded:
    """One request as the server received it."""

    method: str
    target: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    request_line: str


@attrs.define
class FakeTask:
    """The fault server's model of one task."""

    id: str
    text: str = "a task"
    status: TaskStatus = TaskStatus.RUNNING
    steps: int = 0
    metadata: dict[str, str] = attrs.Factory(dict)

    def view(self) -> dict[str, Any]:
        """The v1 task view."""
        return {
            "id": self.id,
            "task": self.text,
            "output": None,
            "status": self.status.value,
            "created_at": "2026-01-02T03:04:05+00:00",
            "finished_at": "2026-01-02T03:14:05+00:00" if self.status.is_terminal else None,
            "steps": [
                {
                    "id": f"{self.id}_s{n}",
                    "step": n,
                    "evaluation_previous_goal": "Success",
                    "next_goal": f"step {n}",
                    "url": "about:blank",
                }
                for n in range(1, self.steps + 1)
            ],
            "live_url": None,
            "browser_data": None,
            "user_uploaded_files": [],
            "output_files": [],
            "public_share_url": None,
            "metadata": self.metadata,
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``FaultServer.requests`` instead."""

    def do_GET(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        record = Recorded(
            self.command, self.path, parts.path, parse_qs(parts.query),
            {k.lower(): v for k, v in self.headers.items()}, body, self.requestline,
        )  # fmt: skip
        reply = owner._next_reply(record)
        canned = owner._canned(record) if reply is None or reply.apply else None
        if reply is None:
            assert canned is not None
            self._send(*canned)
            return
        if reply.kind == "drop":
            self.close_connection = True
            return
        if reply.kind == "truncated":
            self.send_response(reply.status)
            self.send_header("Content-Type", _JSON)
            self.send_header("Content-Length", str(len(reply.body) + 100))
            self.end_headers()
            self.wfile.write(reply.body)
            self.wfile.flush()
            self.close_connection = True
            return
        if reply.kind == "slow":
            owner._released.wait(reply.seconds)
            self._send(*(canned or owner._canned(record)))
            return
        if reply.kind in ("trickle", "trickle-all", "endless", "wire"):
            self.close_connection = True
            self._write_fault(reply)
            return
        self._send(reply.status, reply.content_type, reply.body, reply.headers)

    def _write_fault(self, reply: Reply) -> None:
        released = self.server.owner._released
        if reply.kind == "wire":
            self.wfile.write(reply.body)
            return
        if reply.kind == "endless":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n")  # fmt: skip
            chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
            while not released.is_set():
                self.wfile.write(chunk)
            return
        head = (f"HTTP/1.1 200 OK\r\nContent-Type: {_JSON}\r\n"
                f"Content-Length: {len(reply.body)}\r\n\r\n").encode()  # fmt: skip
        slow = reply.body if reply.kind == "trickle" else head + reply.body
        if reply.kind == "trickle":
            self.wfile.write(head)
        for byte in slow:
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            if released.wait(reply.seconds):
                return

    def _send(
        self,
        status: int,
        content_type: str,
        payload: bytes,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: FaultServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout) breaks the pipe: expected here, not an error."""


class FaultServer:
    """A scriptable v1 server on 127.0.0.1 (see the module docstring).

    Subclasses may serve with their own ``server_class`` and ``handler_class``.
    """

    server_class: type[_Server] = _Server
    handler_class: type[_Handler] = _Handler

    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.tasks: dict[str, FakeTask] = {}
        self.requests: list[Recorded] = []
        self._replies: list[Reply] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._released = threading.Event()
        self._ids = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` while serving."""
        if self._server is None:
            raise RuntimeError("the fault server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        """Bind a free loopback port and serve in a daemon thread (ready when this returns)."""
        server = self.server_class(("127.0.0.1", 0), self.handler_class)
        server.owner = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release slow replies, stop serving and close the socket (idempotent)."""
        self._released.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # scripting -------------------------------------------------------------------------

    def script(self, *replies: Reply) -> None:
        """Queue replies for the next matching requests, in order."""
        with self._lock:
            self._replies.extend(replies)

    def release(self) -> None:
        """Let every held reply (``slow``, ``trickle``, ``endless``) finish now, and later ones
        at once."""
        self._released.set()

    def wait_for(self, path: str, timeout: float = 10.0) -> Recorded:
        """Block until a request whose path starts with ``path`` has arrived; return it."""
        with self._arrived:
            found: list[Recorded] = []

            def arrived() -> bool:
                found[:] = [r for r in self.requests if r.path.startswith(path)]
                return bool(found)

            if not self._arrived.wait_for(arrived, timeout):
                raise TimeoutError(f"no request for {path} within {timeout} s")
            return found[0]

    def pending(self) -> int:
        """How many scripted replies have not been used yet."""
        with self._lock:
            return len(self._replies)

    def add_task(
        self, task_id: str, *, status: str = "running", steps: int = 0, text: str = "a task"
    ) -> str:
        """Put a task in the model; returns its id."""
        with self._lock:
            self.tasks[task_id] = FakeTask(task_id, text, TaskStatus(status), steps)
        return task_id

    def status_of(self, task_id: str) -> TaskStatus:
        """The model's status for ``task_id``."""
        with self._lock:
            return self.tasks[task_id].status

    # internals -------------------------------------------------------------------------

    def _next_reply(self, record: Recorded) -> Reply | None:
        with self._lock:
            self.requests.append(record)
            self._arrived.notify_all()
            for i, reply in enumerate(self._replies):
                if reply.path is None or record.path.startswith(reply.path):
                    return self._replies.pop(i)
        return None

    def _canned(self, record: Recorded) -> tuple[int, str, bytes]:
        def answer(status: int, body: Any) -> tuple[int, str, bytes]:
            return status, _JSON, json.dumps(body).encode()

        if self.api_key is not None and record.headers.get("authorization") != (
            f"Bearer {self.api_key}"
        ):
            return answer(401, {"detail": "Invalid or missing API key"})
        segments = [unquote(s) for s in record.path.split("/")]
        with self._lock:
            if record.method == "PUT" and len(segments) == 4 and segments[3].endswith("-task"):
                ids = record.query.get("task_id")
                if not ids:
                    return answer(422, SEED_422)
                task = self.tasks.get(ids[0])
                if task is None:
                    return answer(404, {"detail": "Task not found"})
                action = Action(segments[3].removesuffix("-task"))
                dest = LIFECYCLE.target(task.status, action)
                if dest is None:
                    if action is Action.STOP and task.status.is_terminal:
                        return answer(200, {})
                    return answer(409, {"detail": f"cannot {action} a {task.status} task"})
                task.status = dest
                return answer(200, {})
            if record.method == "POST" and record.path == "/api/v1/run-task":
                data = json.loads(record.body or b"{}")
                if not isinstance(data.get("task"), str):
                    detail = [{"loc": ["body", "task"], "msg": "field required",
                               "type": "value_error.missing"}]  # fmt: skip
                    return answer(422, {"detail": detail})
                self._ids += 1
                task_id = f"task_{self._ids:04d}"
                self.tasks[task_id] = FakeTask(
                    task_id, data["task"], metadata=data.get("metadata") or {}
                )
                return answer(200, {"id": task_id})
            if record.method == "GET" and record.path == "/api/v1/tasks":
                page = int(record.query.get("page", ["1"])[0])
                limit = int(record.query.get("limit", ["10"])[0])
                items = list(reversed(self.tasks.values()))
                chosen = items[(page - 1) * limit : page * limit]
                return answer(200, {
                    "tasks": [{k: t.view()[k] for k in ("id", "task", "output", "status",
                               "created_at", "finished_at", "live_url")} for t in chosen],
                    "total_pages": -(-len(items) // limit), "page": page, "limit": limit,
                    "total_count": len(items),
                })  # fmt: skip
            if record.method == "GET" and len(segments) in (5, 6) and segments[3] == "task":
                task = self.tasks.get(segments[4])
                if task is None:
                    return answer(404, {"detail": "Task not found"})
                if len(segments) == 6 and segments[5] == "status":
                    return answer(200, task.status.value)
                if len(segments) == 5:
                    return answer(200, task.view())
        return answer(404, {"detail": "Not Found"})
