"""A real webhook receiver on 127.0.0.1 for the sender's tests: it records every POST and
answers as scripted (a status code, a redirect, a huge answer, or no answer until released).

``tests/conftest.py`` puts ``tests/`` on ``sys.path``, so tests ``import webhook_receiver``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs

__all__ = ["BIG", "HANG", "REDIRECT", "Delivery", "Receiver", "closed_port", "receiver", "until"]

REDIRECT = "redirect"
"""Answer 302 to another path of this receiver."""
BIG = "big"
"""Answer 200 with a 64 MiB body (``answer_finished`` tells whether it was all sent)."""
HANG = "hang"
"""Send no answer until ``release`` is set (or 60 s pass), then 200."""
BIG_BYTES = 64 * 1024 * 1024


@attrs.frozen
class Delivery:
    """One POST the receiver got: its path, headers (as sent) and body."""

    path: str
    headers: dict[str, str]
    body: bytes


@attrs.define
class Receiver:
    """The receiver's state: what it got, what it will answer next (then ``default``)."""

    url: str
    deliveries: list[Delivery] = attrs.Factory(list)
    script: list[int | str] = attrs.Factory(list)
    default: int | str = 200
    answer_finished: bool | None = None
    release: threading.Event = attrs.Factory(threading.Event)
    held: threading.Event = attrs.Factory(threading.Event)
    """Set once a request is held by ``HANG``."""
    lock: threading.Lock = attrs.Factory(threading.Lock)
    arrived: threading.Condition = attrs.Factory(threading.Condition)

    def got(self) -> list[Delivery]:
        with self.lock:
            return list(self.deliveries)

    def wait_for(self, count: int, deadline: float = 60.0) -> list[Delivery]:
        """Wait until ``count`` deliveries arrived (a condition with a deadline)."""
        give_up = time.monotonic() + deadline
        with self.arrived:
            while len(self.deliveries) < count:
                left = give_up - time.monotonic()
                assert left > 0, f"{len(self.deliveries)} deliveries arrived, not {count}"
                self.arrived.wait(left)
        return self.got()


def _handler(state: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with state.lock:
                answer = state.script.pop(0) if state.script else state.default
            if answer == HANG:
                state.held.set()
                state.release.wait(60)
            with state.arrived:
                state.deliveries.append(Delivery(self.path, dict(self.headers.items()), body))
                state.arrived.notify_all()
            if answer == REDIRECT:
                self._answer(302, b"", {"Location": "/moved"})
            elif answer == BIG:
                self._big()
            else:
                self._answer(200 if answer == HANG else int(answer), b"ok")

        def _answer(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _big(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(BIG_BYTES))
            self.end_headers()
            chunk = b"x" * 65536
            try:
                for _ in range(BIG_BYTES // len(chunk)):
                    self.wfile.write(chunk)
                state.answer_finished = True
            except OSError:  # the sender closed the connection before reading it all
                state.answer_finished = False
                self.close_connection = True

    return Handler


@contextmanager
def receiver() -> Iterator[Receiver]:
    """A receiver on a free loopback port, stopped afterwards."""
    state = Receiver("")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/tasklife"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(10)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def until(condition: Callable[[], Any], deadline: float = 60.0, what: str = "condition") -> Any:
    """Call ``condition`` until it returns something true (polled with a deadline)."""
    give_up = time.monotonic() + deadline
    pause = threading.Event()
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < give_up, f"{what} not reached within {deadline}s"
        pause.wait(0.01)
