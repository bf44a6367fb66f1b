"""``ChaosProxy``: a webhook proxy on 127.0.0.1 that reorders, duplicates and drops deliveries.

A sender posts to ``proxy.url``; the proxy answers 200 at once (so the sender moves on to its
next event) and keeps the delivery in a buffer. A forwarder thread posts buffered deliveries to
the target, byte for byte with the signature headers, in an order of its choosing: each time
it picks one of the buffered deliveries at random (a seeded ``random.Random``), so a later
event often overtakes an earlier one. A picked delivery is dropped (never forwarded) with
probability ``drop``, and put back to be forwarded once more later (a duplicate) with
probability ``duplicate``: one roll per pick from a generator of its own, so the sequence of
drops and duplicates depends on the seed alone, not on timing. Everything is recorded:
``received``, ``forwarded`` (with the target's answer), ``dropped``.

``settle(deadline)`` waits (a condition polled with a deadline, never a fixed sleep) until the
buffer is empty and nothing is in flight.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs
import httpx

__all__ = ["ChaosProxy", "Delivery"]

_FORWARDED_HEADERS = ("x-browser-use-timestamp", "x-browser-use-signature", "content-type")


@attrs.frozen
class Delivery:
    """One delivery as the sender posted it: its number, body and signature headers."""

    number: int
    body: bytes
    headers: tuple[tuple[str, str], ...]


class ChaosProxy:
    """Forward webhook deliveries to ``target`` reordered, duplicated and dropped (seeded)."""

    def __init__(
        self,
        target: str,
        *,
        seed: int = 13,
        drop: float = 0.1,
        duplicate: float = 0.2,
        hold: int = 4,
    ) -> None:
        self.target = target
        self.received: list[Delivery] = []
        self.forwarded: list[tuple[Delivery, int]] = []
        self.dropped: list[Delivery] = []
        self._picks = random.Random(seed)  # which buffered delivery goes next
        self._rolls = random.Random(seed + 1)  # drop or duplicate: one roll per pick
        self._drop = drop
        self._duplicate = duplicate
        self._hold = hold
        self._buffer: list[Delivery] = []
        self._busy = False
        self._closing = False
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._threads = [
            threading.Thread(target=self._server.serve_forever, name="chaos-proxy", daemon=True),
            threading.Thread(target=self._forward, name="chaos-forwarder", daemon=True),
        ]

    @property
    def url(self) -> str:
        """Where a sender posts."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hook"

    def start(self) -> ChaosProxy:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=10)

    def __enter__(self) -> ChaosProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def settle(self, deadline: float = 30.0) -> None:
        """Wait until every received delivery was forwarded or dropped (AssertionError else)."""
        give_up = time.monotonic() + deadline
        with self._changed:
            while self._buffer or self._busy:
                left = give_up - time.monotonic()
                assert left > 0, f"the proxy still holds {len(self._buffer)} deliveries"
                self._changed.wait(left)

    @property
    def reordered(self) -> bool:
        """True when some delivery was forwarded before one the sender posted earlier."""
        numbers = [delivery.number for delivery, _ in self.forwarded]
        return any(later < earlier for earlier, later in itertools.pairwise(numbers))

    @property
    def duplicated(self) -> bool:
        """True when some delivery was forwarded more than once."""
        numbers = [delivery.number for delivery, _ in self.forwarded]
        return len(numbers) != len(set(numbers))

    # internals -------------------------------------------------------------------------

    def _accept(self, body: bytes, headers: Any) -> None:
        kept = tuple((name, headers[name]) for name in _FORWARDED_HEADERS if name in headers)
        with self._changed:
            delivery = Delivery(len(self.received), body, kept)
            self.received.append(delivery)
            self._buffer.append(delivery)
            self._changed.notify_all()

    def _next(self) -> Delivery | None:
        """The next delivery to forward, once the buffer holds enough (or is idle)."""
        with self._changed:
            while not self._closing:
                if len(self._buffer) >= self._hold:
                    break
                count = len(self._buffer)
                # An idle buffer is flushed: nothing new for a moment means nothing overtakes.
                if not self._changed.wait(0.05) and count and len(self._buffer) == count:
                    break
            if self._closing or not self._buffer:
                return None
            self._busy = True
            return self._buffer.pop(self._picks.randrange(len(self._buffer)))

    def _forward(self) -> None:
        with httpx.Client(timeout=30) as http:
            while True:
                delivery = self._next()
                if delivery is None:
                    with self._changed:
                        if self._closing:
                            return
                    continue
                try:
                    self._send(http, delivery)
                finally:
                    with self._changed:
                        self._busy = False
                        self._changed.notify_all()

    def _send(self, http: httpx.Client, delivery: Delivery) -> None:
        roll = self._rolls.random()
        if roll < self._drop:
            self.dropped.append(delivery)
            return
        answer = http.post(self.target, content=delivery.body, headers=dict(delivery.headers))
        with self._changed:
            self.forwarded.append((delivery, answer.status_code))
            if roll > 1 - self._duplicate:
                self._buffer.append(delivery)  # once more, later

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                proxy._accept(
                    self.rfile.read(size), {k.lower(): v for k, v in self.headers.items()}
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test reads the records, not a log."""

        return Handler
