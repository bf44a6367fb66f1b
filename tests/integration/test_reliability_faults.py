"""The fault-injection table: every fault, on a push and on a read, once and persistently.

Uses ``integration.faultserver`` (plus two reply kinds it lacks, added by a subclass here:
``slow-body`` -- headers at once, the body held back beyond the client's timeout -- and
``close-before`` -- the connection closed before the request is read). The sync
``BrowserUseTransport`` runs with its real retry loop, its waits scaled down (Retry-After
capped at 0.05 s, backoff from 0.01 s) so the run stays short; timeouts are real (0.3 s).

For each row: the outcome is a success or the expected ``TransportError`` subclass (never
another exception), the local task equals the remote afterwards (no divergence) and is
unchanged on failure, and the number of requests is bounded by the retry policy. The time
each row took is measured and printed for RELIABILITY.md, not asserted.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, Self

import attrs
import pytest

from integration.faultserver import SEED_422, FaultServer, Reply, _Handler, _Server
from tasklife.transports import (
    RemoteTask,
    RetryPolicy,
    TransportError,
)
from tasklife.transports.http import BrowserUseTransport

KEY = "tl-faults-key-90ab"
TIMEOUT = 0.3
ATTEMPTS = 4
POLICY = RetryPolicy(
    max_attempts=ATTEMPTS, base_delay=0.01, max_delay=0.05, jitter=0, max_retry_after=0.05
)


SLOW_BODY = "application/json; x-slow-body"
"""A content type marking a reply whose body ``_MoreFaults`` holds back (the marker is not sent)."""


class _MoreFaults(_Handler):
    """faultserver's handler, one request per connection, plus ``close-before`` and slow bodies."""

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

    def _send(
        self,
        status: int,
        content_type: str,
        payload: bytes,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        if content_type != SLOW_BODY:
            super()._send(status, content_type, payload, headers)
            return
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload[:5])
        self.wfile.flush()
        self.server.owner._released.wait(5.0)  # far beyond the client's timeout
        self.wfile.write(payload[5:])


class _MoreServer(_Server):
    owner: MoreFaultServer


class MoreFaultServer(FaultServer):
    """``FaultServer`` serving with ``_MoreFaults``; counts connections closed unread."""

    def __init__(self, api_key: str | None = None) -> None:
        super().__init__(api_key)
        self.closed_unread = 0

    def start(self) -> Self:
        server = _MoreServer(("127.0.0.1", 0), _MoreFaults)
        server.owner = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self


FAULTS: dict[str, Reply] = {
    "500": Reply.error(500, "boom"),
    "502": Reply.error(502, "bad gateway"),
    "503 + Retry-After": Reply.error(503, "busy", retry_after="2"),
    "429 + Retry-After": Reply.error(429, "slow down", retry_after="1"),
    "slow headers": Reply.slow(),
    "slow body": Reply.raw(
        b'{"id": "x", "status": "running", "steps": []}', content_type=SLOW_BODY
    ),
    "closed before request": Reply("close-before"),
    "closed after request": Reply.drop(),
    "connection refused": Reply("refused"),
    "truncated body": Reply.truncated(b'{"id": "x", "sta'),
    "invalid JSON": Reply.raw(b"{not json"),
    "wrong content type": Reply.raw(b"<html>busy</html>", content_type="text/html"),
    "unknown status": Reply.json({"id": "x", "status": "exploded", "steps": []}),
    "unknown HTTP status": Reply.error(599, "what"),
    "422 (seed)": Reply.json(SEED_422, 422),
}


@attrs.frozen
class Case:
    fault: str
    op: str
    persistent: bool


# (fault, operation) -> (outcome when injected once, outcome when injected on every attempt).
# Writes are retried only when the request cannot have reached the server (429, refused);
# any other failure of a push is checked against the remote status before it is raised.
# Reads are retried on 429/502/503/504 and refused connections.
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
}
CASES = [
    pytest.param(
        Case(fault, op, persistent), id=f"{fault}-{op}-{'always' if persistent else 'once'}"
    )
    for (fault, op) in EXPECTED
    for persistent in (False, True)
]
ROWS: list[dict[str, Any]] = []


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture(scope="module", autouse=True)
def _print_table() -> Iterator[None]:
    """After the module: the table RELIABILITY.md shows, in Markdown."""
    yield
    print("\n| fault | operation | injected | outcome | requests | local task | time |")
    print("|---|---|---|---|---|---|---|")
    for r in ROWS:
        print(
            f"| {r['fault']} | {r['op']} | {r['injected']} | {r['outcome']} | {r['requests']} "
            f"| {r['local']} | {r['seconds']:.2f} s |"
        )


@pytest.fixture
def server() -> Iterator[MoreFaultServer]:
    with MoreFaultServer(api_key=KEY) as fault_server:
        yield fault_server


def transport_on(base_url: str) -> BrowserUseTransport:
    return BrowserUseTransport(
        KEY, base_url=base_url, timeout=TIMEOUT, retry=POLICY, allow_insecure_http=True
    )


class TestFaultTable:
    @pytest.mark.parametrize("case", CASES)
    def test_fault(self, server: MoreFaultServer, case: Case) -> None:
        """The expected outcome; the local task matches the remote; requests are bounded."""
        with transport_on(server.base_url) as healthy:
            run = RemoteTask.create(healthy, "fault table")
        before = run.task.to_dict()
        reply = FAULTS[case.fault]
        if reply.kind in {"json", "raw", "drop", "truncated", "slow"}:
            reply = attrs.evolve(reply, path=f"/api/v1/{case.op}-task" if case.op == "pause"
                                 else "/api/v1/task/")  # fmt: skip
        if reply.kind != "refused":
            server.script(*[reply] * (ATTEMPTS + 2 if case.persistent else 1))
        base_url = (
            f"http://127.0.0.1:{closed_port()}" if reply.kind == "refused" else server.base_url
        )
        sent = len(server.requests) + server.closed_unread
        with transport_on(base_url) as transport:
            bound = RemoteTask(transport, run.task)
            started = time.monotonic()
            try:
                bound.pause() if case.op == "pause" else bound.refresh()
                outcome = "success"
            except TransportError as error:
                outcome = type(error).__name__
            seconds = time.monotonic() - started
        requests = len(server.requests) + server.closed_unread - sent
        remote = server.status_of(run.id)
        ROWS.append(
            {
                "fault": case.fault,
                "op": "pause (push)" if case.op == "pause" else "refresh (read)",
                "injected": "every attempt" if case.persistent else "once",
                "outcome": outcome,
                "requests": "-" if reply.kind == "refused" else requests,
                "local": "unchanged" if run.task.to_dict() == before else f"→ {run.status}",
                "seconds": seconds,
            }
        )
        assert outcome == EXPECTED[case.fault, case.op][case.persistent]
        assert run.status is remote, "the local task diverged from the remote"
        if outcome != "success":
            assert run.task.to_dict() == before
        assert requests <= ATTEMPTS + 1
