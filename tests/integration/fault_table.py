"""The transport fault table: every fault, on a push and on a read, once and on every attempt,
on the sync and the async face; shared by its test (which asserts) and ``bench/`` (which prints).

Uses ``integration.faultserver`` (a slow body is its ``trickle`` at 5 s a byte) plus one reply
kind it lacks, added here: ``close-before`` (the connection closed before the request is read,
one request per connection). The transport runs with its real retry loop,
its waits scaled down (Retry-After capped at 0.05 s, backoff from 0.01 s); timeouts are real
(0.3 s per read, 0.6 s per call; answers capped at 1 MiB). No pytest here: ``run_case``
returns a ``Row``; the caller judges it (``Row.problems``) or prints it (``render``).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterable
from typing import Any

import attrs
from faces import faced

from integration.faultserver import SEED_422, FaultServer, Reply, _Handler, _Server
from tasklife.transports import RemoteTask, RetryPolicy, TransportError
from tasklife.transports.http import AsyncBrowserUseTransport, BrowserUseTransport

__all__ = ["CASES", "Case", "MoreFaultServer", "Row", "render", "run_case"]

KEY = "tl-faults-key-90ab"
TIMEOUT = 0.3
CALL_TIMEOUT = 0.6
MAX_BYTES = 1 << 20
"""The size cap: small, so an endless body reaches it long before the call's deadline."""
ATTEMPTS = 4
POLICY = RetryPolicy(
    max_attempts=ATTEMPTS, base_delay=0.01, max_delay=0.05, jitter=0, max_retry_after=0.05
)


class _MoreFaults(_Handler):
    """faultserver's handler, one request per connection, plus ``close-before``."""

    server: _MoreServer

    def handle(self) -> None:
        owner = self.server.owner
        with owner._lock:
            if owner._replies and owner._replies[0].kind == "close-before":
                owner._replies.pop(0)
                owner.closed_unread += 1
                return  # closed without reading a byte of the request
        super().handle()

    def end_headers(self) -> None:
        # One request per connection, announced, so a close-before meets a fresh connection
        # and a client never reuses a connection the server is closing.
        self.send_header("Connection", "close")
        super().end_headers()


class _MoreServer(_Server):
    owner: MoreFaultServer


class MoreFaultServer(FaultServer):
    """``FaultServer`` serving with ``_MoreFaults``; counts connections closed unread."""

    server_class = _MoreServer
    handler_class = _MoreFaults

    def __init__(self, api_key: str | None = None) -> None:
        super().__init__(api_key)
        self.closed_unread = 0


DEEP = b"[" * 100_000 + b"]" * 100_000
HUGE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 419430400\r\n\r\n{"
)
HUGE_NUMBER = b'{"id": "x", "status": "running", "steps": ' + b"9" * 5000 + b"}"
TRICKLED = json.dumps({"id": "x", "status": "running", "output": "x" * 300}).encode()

FAULTS: dict[str, Reply] = {
    "500": Reply.error(500, "boom"),
    "502": Reply.error(502, "bad gateway"),
    "503 + Retry-After": Reply.error(503, "busy", retry_after="2"),
    "429 + Retry-After": Reply.error(429, "slow down", retry_after="1"),
    "slow headers": Reply.slow(),
    "slow body": Reply.trickle(b'{"id": "x", "status": "running", "steps": []}', seconds=5.0),
    "closed before request": Reply("close-before"),
    "closed after request": Reply.drop(),
    "connection refused": Reply("refused"),
    "truncated body": Reply.truncated(b'{"id": "x", "sta'),
    "invalid JSON": Reply.raw(b"{not json"),
    "wrong content type": Reply.raw(b"<html>busy</html>", content_type="text/html"),
    "unknown status": Reply.json({"id": "x", "status": "exploded", "steps": []}),
    "unknown HTTP status": Reply.error(599, "what"),
    "422 (seed)": Reply.json(SEED_422, 422),
    # the hostile server: answers httpx parses but a careless reader chokes on, and worse
    "JSON 100,000 levels deep": Reply.raw(DEEP),
    "deep JSON, after applying": Reply.raw(DEEP, apply=True),
    "deep JSON in detail": Reply.raw(b'{"detail": ' + DEEP + b"}", 500),
    "date with no UTC equivalent": Reply.json(
        {"id": "x", "status": "running", "created_at": "0001-01-01T00:00:00+01:00"}
    ),
    "422 whose loc is null": Reply.json({"detail": [{"loc": None, "msg": "x"}]}, 422),
    "Retry-After in year 10^20": Reply.error(
        429, "x", retry_after="Thu, 01 Jan 99999999999999999999 00:00:00 GMT"
    ),
    "a 5,000-digit number": Reply.raw(HUGE_NUMBER),
    "body trickled, 1 byte / 0.2 s": Reply.trickle(TRICKLED),
    "head trickled, 1 byte / 0.2 s": Reply.trickle(TRICKLED, headers=True),
    "400 MiB declared": Reply.wire(HUGE_HEAD),
    "endless body": Reply.endless(),
    "caller cancelled mid-push": Reply.slow(30, apply=True),
}

# (fault, operation) -> (outcome when injected once, outcome when injected on every attempt).
# Writes are retried only when the request cannot have reached the server (429, refused);
# any other failure of a push is checked against the remote status before it is raised.
# Reads are retried on 429/502/503/504 and connection failures.
EXPECTED: dict[tuple[str, str], tuple[str, str]] = {
    ("500", "pause"): ("ServerError", "ServerError"),
    ("500", "refresh"): ("ServerError", "ServerError"),
    ("502", "pause"): ("ServerError", "ServerError"),
    ("502", "refresh"): ("success", "ServerError"),
    ("503 + Retry-After", "pause"): ("ServerError", "ServerError"),
    ("503 + Retry-After", "refresh"): ("success", "ServerError"),
    ("429 + Retry-After", "pause"): ("success", "RateLimited"),
    ("429 + Retry-After", "refresh"): ("success", "RateLimited"),
    ("slow headers", "pause"): ("TransportTimeout", "TransportTimeout"),
    ("slow headers", "refresh"): ("TransportTimeout", "TransportTimeout"),
    ("slow body", "pause"): ("TransportTimeout", "TransportTimeout"),
    ("slow body", "refresh"): ("TransportTimeout", "TransportTimeout"),
    ("closed before request", "pause"): ("ConnectionFailed", "ConnectionFailed"),
    ("closed before request", "refresh"): ("success", "ConnectionFailed"),
    ("closed after request", "pause"): ("ConnectionFailed", "ConnectionFailed"),
    ("closed after request", "refresh"): ("success", "ConnectionFailed"),
    ("connection refused", "pause"): ("ConnectionFailed", "ConnectionFailed"),
    ("connection refused", "refresh"): ("ConnectionFailed", "ConnectionFailed"),
    ("truncated body", "pause"): ("ProtocolError", "ProtocolError"),
    ("truncated body", "refresh"): ("ProtocolError", "ProtocolError"),
    ("invalid JSON", "pause"): ("ProtocolError", "ProtocolError"),
    ("invalid JSON", "refresh"): ("ProtocolError", "ProtocolError"),
    ("wrong content type", "pause"): ("ProtocolError", "ProtocolError"),
    ("wrong content type", "refresh"): ("ProtocolError", "ProtocolError"),
    ("unknown status", "refresh"): ("ProtocolError", "ProtocolError"),
    ("unknown HTTP status", "pause"): ("ServerError", "ServerError"),
    ("unknown HTTP status", "refresh"): ("ServerError", "ServerError"),
    ("422 (seed)", "pause"): ("ValidationFailed", "ValidationFailed"),
    ("422 (seed)", "refresh"): ("ValidationFailed", "ValidationFailed"),
    ("JSON 100,000 levels deep", "pause"): ("ProtocolError", "ProtocolError"),
    ("JSON 100,000 levels deep", "refresh"): ("ProtocolError", "ProtocolError"),
    ("deep JSON, after applying", "pause"): ("success", "success"),
    ("deep JSON in detail", "pause"): ("ServerError", "ServerError"),
    ("deep JSON in detail", "refresh"): ("ServerError", "ServerError"),
    ("date with no UTC equivalent", "refresh"): ("ProtocolError", "ProtocolError"),
    ("422 whose loc is null", "pause"): ("ValidationFailed", "ValidationFailed"),
    ("422 whose loc is null", "refresh"): ("ValidationFailed", "ValidationFailed"),
    ("Retry-After in year 10^20", "pause"): ("success", "RateLimited"),
    ("Retry-After in year 10^20", "refresh"): ("success", "RateLimited"),
    ("a 5,000-digit number", "refresh"): ("ProtocolError", "ProtocolError"),
    ("body trickled, 1 byte / 0.2 s", "pause"): ("TransportTimeout", "TransportTimeout"),
    ("body trickled, 1 byte / 0.2 s", "refresh"): ("TransportTimeout", "TransportTimeout"),
    ("head trickled, 1 byte / 0.2 s", "pause"): ("TransportTimeout", "TransportTimeout"),
    ("head trickled, 1 byte / 0.2 s", "refresh"): ("TransportTimeout", "TransportTimeout"),
    ("400 MiB declared", "pause"): ("ProtocolError", "ProtocolError"),
    ("400 MiB declared", "refresh"): ("ProtocolError", "ProtocolError"),
    ("endless body", "pause"): ("ProtocolError", "ProtocolError"),
    ("endless body", "refresh"): ("ProtocolError", "ProtocolError"),
    ("caller cancelled mid-push", "pause"): ("CancelledError", "CancelledError"),
}
ASYNC_ONLY = frozenset({"caller cancelled mid-push"})
ONCE_ONLY = frozenset({"caller cancelled mid-push"})


@attrs.frozen
class Case:
    """One row of the table: a fault, an operation, how often, which face."""

    fault: str
    op: str
    persistent: bool
    side: str

    @property
    def name(self) -> str:
        return f"{self.side}-{self.fault}-{self.op}-{'always' if self.persistent else 'once'}"


CASES = [
    Case(fault, op, persistent, side)
    for side in ("sync", "async")
    for (fault, op) in EXPECTED
    for persistent in (False, True)
    if (side == "async" or fault not in ASYNC_ONLY) and not (persistent and fault in ONCE_ONLY)
]


@attrs.frozen
class Row:
    """What one case did."""

    case: Case
    outcome: str
    requests: int | None
    unchanged: bool
    local: str
    remote: str
    seconds: float

    @property
    def expected(self) -> str:
        return EXPECTED[self.case.fault, self.case.op][self.case.persistent]

    def problems(self) -> list[str]:
        """What went wrong, if anything: the wrong outcome, a divergence, too many requests."""
        found = []
        if self.outcome != self.expected:
            found.append(f"outcome {self.outcome}, expected {self.expected}")
        if self.local != self.remote:
            found.append(f"the local task ({self.local}) diverged from the remote ({self.remote})")
        if self.outcome not in ("success", "CancelledError") and not self.unchanged:
            found.append("a failure changed the local task")
        if self.requests is not None and self.requests > ATTEMPTS + 1:
            found.append(f"{self.requests} requests, more than the policy allows")
        return found


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _transports(base_url: str) -> tuple[BrowserUseTransport, AsyncBrowserUseTransport]:
    options: dict[str, Any] = {
        "base_url": base_url, "timeout": TIMEOUT, "retry": POLICY, "call_timeout": CALL_TIMEOUT,
        "max_response_bytes": MAX_BYTES,
    }  # fmt: skip
    return BrowserUseTransport(KEY, **options), AsyncBrowserUseTransport(KEY, **options)


def run_case(server: MoreFaultServer, case: Case) -> Row:
    """Inject ``case``'s fault on ``server``, run the operation, and say what happened."""
    with BrowserUseTransport(KEY, base_url=server.base_url, timeout=TIMEOUT) as healthy:
        run = RemoteTask.create(healthy, "fault table")
    before = run.task.to_dict()
    reply = FAULTS[case.fault]
    if reply.kind not in {"refused", "close-before"}:
        path = "/api/v1/pause-task" if case.op == "pause" else "/api/v1/task/"
        reply = attrs.evolve(reply, path=path)
    if reply.kind != "refused":
        server.script(*[reply] * (ATTEMPTS + 2 if case.persistent else 1))
    base_url = f"http://127.0.0.1:{closed_port()}" if reply.kind == "refused" else server.base_url
    sent = len(server.requests) + server.closed_unread
    sync, asynchronous = _transports(base_url)
    started = time.monotonic()
    try:
        for face in faced(case.side, sync, asynchronous):
            bound = face.bind(run.task)
            try:
                if case.fault in ASYNC_ONLY:
                    outcome = _cancelled(server, face.runner, bound.target)
                else:
                    bound.pause() if case.op == "pause" else bound.refresh()
                    outcome = "success"
            except TransportError as error:
                outcome = type(error).__name__
            finally:
                if face.runner is not None:
                    face.runner.run(asynchronous.close())
    finally:
        sync.close()
    seconds = time.monotonic() - started
    requests = len(server.requests) + server.closed_unread - sent
    return Row(
        case, outcome, None if reply.kind == "refused" else requests,
        run.task.to_dict() == before, run.status.value, server.status_of(run.id).value, seconds,
    )  # fmt: skip


def _cancelled(server: MoreFaultServer, runner: Any, bound: Any) -> str:
    """Cancel a pause once the remote holds its (applied) answer, then let the answer go."""

    async def scenario() -> str:
        pausing = asyncio.ensure_future(bound.pause())
        await asyncio.to_thread(server.wait_for, "/api/v1/pause-task")
        pausing.cancel()
        server.release()
        try:
            await pausing
        except asyncio.CancelledError:
            return "CancelledError"
        return "success"

    outcome: str = runner.run(scenario())
    return outcome


def render(rows: Iterable[Row]) -> str:
    """The table RELIABILITY.md shows: one line per fault, operation and face."""
    grouped: dict[tuple[str, str, str], dict[bool, Row]] = {}
    for row in rows:
        grouped.setdefault((row.case.fault, row.case.op, row.case.side), {})[
            row.case.persistent
        ] = row

    def cell(row: Row | None) -> str:
        if row is None:
            return "-"
        sent = "-" if row.requests is None else str(row.requests)
        local = "unchanged" if row.unchanged else f"→ {row.local}"
        return f"{row.outcome} ({sent}, {local})"

    lines = [
        "| fault | operation | face | injected once: outcome (requests, local task) "
        "| on every attempt | slowest |",
        "|---|---|---|---|---|---|",
    ]
    for (fault, op, side), pair in grouped.items():
        slowest = max(r.seconds for r in pair.values())
        operation = "pause (push)" if op == "pause" else "refresh (read)"
        lines.append(
            f"| {fault} | {operation} | {side} | {cell(pair.get(False))} "
            f"| {cell(pair.get(True))} | {slowest:.2f} s |"
        )
    return "\n".join(lines) + "\n"
