"""Answers that can be large, built off the event loop, with a bound on the memory they take.

A task view holds one task's text (as large as a run-task body may be), a page holds up to 100
of them, and a history grows with every action. Built and JSON-encoded on the event loop, one
such answer stalls every other request for as long as it takes. So:

- ``off_loop``: a task view or a history is read from the store and encoded in a worker
  thread; the event loop only sends the bytes.
- ``PageAnswer``: a page is read in a worker thread and written in chunks of about
  ``CHUNK_BYTES``, each encoded in a worker thread once the previous one was sent; each task is
  dropped once encoded. A page answer holds at most its page of summaries (``limit`` tasks,
  shrinking as it is sent) and one chunk, never a second, encoded copy of the page.
- At most one page answer per key is read and sent at a time; the others of that key wait
  their turn without holding anything (and without blocking the event loop). So all page
  answers together hold at most one page per configured key, however many requests come, and
  a key that asks for many large pages slows only its own pages.

A page that fits in one chunk (the usual case) is answered with a ``Content-Length``; a larger
one is sent with chunked transfer encoding.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, Final

import anyio
import anyio.to_thread
import attrs
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from tasklife.v1 import TaskPage, page_to_json, summary_to_json

__all__ = [
    "CHUNK_BYTES",
    "JSONAnswer",
    "PageAnswer",
    "PageLimits",
    "encode",
    "off_loop",
    "page_chunks",
]

CHUNK_BYTES: Final = 64 * 1024
"""A page is written in chunks of about this many bytes (or one task, when a task is larger)."""

_JSON: Final = "application/json"
_encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def encode(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON, the bytes Starlette's ``JSONResponse`` would send.

    A character UTF-8 cannot encode (a lone surrogate, which only a task stored before the
    server refused them can hold) is written as its JSON escape, ``\\ud800``, so such a task
    still reads back instead of failing every answer that holds it.
    """
    return _encoder.encode(value).encode("utf-8", "backslashreplace")


class JSONAnswer(JSONResponse):
    """Starlette's ``JSONResponse``, written by ``encode``."""

    def render(self, content: Any) -> bytes:
        """The body: ``content`` encoded by ``encode``."""
        return encode(content)


async def off_loop(build: Callable[[], Any]) -> Response:
    """A JSON answer of ``build()``, built and encoded in a worker thread."""
    body = await anyio.to_thread.run_sync(lambda: encode(build()))
    return Response(body, media_type=_JSON)


def page_chunks(found: TaskPage) -> Iterator[bytes]:
    """The v1 page as JSON, in chunks of about ``CHUNK_BYTES``; each task dropped once encoded."""
    items = deque(found.tasks)
    fields = page_to_json(attrs.evolve(found, tasks=()))
    del found
    head, tail = encode(fields).split(b"[]", 1)  # '{"tasks":' and ',"total_pages":...}'
    chunk = bytearray(head + b"[")
    tail = b"]" + tail
    separator = b""
    while items:
        chunk += separator + encode(summary_to_json(items.popleft()))
        separator = b","
        if len(chunk) >= CHUNK_BYTES:
            yield bytes(chunk)
            chunk = bytearray()
    yield bytes(chunk + tail)


class PageLimits:
    """One permit per key for page answers (see the module's docstring)."""

    def __init__(self) -> None:
        self._limiters: dict[str, anyio.CapacityLimiter] = {}

    def of(self, owner: str) -> anyio.CapacityLimiter:
        """The limiter of ``owner``'s page answers (one at a time)."""
        limiter = self._limiters.get(owner)
        if limiter is None:
            limiter = self._limiters[owner] = anyio.CapacityLimiter(1)
        return limiter


class PageAnswer(Response):
    """An ASGI answer that reads a page (``read()``, in a worker thread) and streams it.

    The owner's permit is taken before the read and given back when the last chunk is sent
    or the client went away, whichever comes first; an error raised by ``read()`` (the store
    unavailable, ...) propagates before anything is sent, so the app's handlers answer it.
    """

    media_type = _JSON

    def __init__(self, read: Callable[[], Iterator[bytes]], limiter: anyio.CapacityLimiter):
        super().__init__(media_type=_JSON)  # the headers are sent by __call__ itself
        self._read = read
        self._limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with self._limiter:
            chunks, first, second = await anyio.to_thread.run_sync(self._start)
            if second is None:
                await Response(first, media_type=_JSON)(scope, receive, send)
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", _JSON.encode())],
                }
            )
            async with anyio.create_task_group() as group:

                async def until_disconnected() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(until_disconnected)
                await self._stream(send, chunks, [first, second])
                group.cancel_scope.cancel()

    def _start(self) -> tuple[Iterator[bytes], bytes, bytes | None]:
        chunks = self._read()
        return chunks, next(chunks), next(chunks, None)

    @staticmethod
    async def _stream(send: Send, chunks: Iterator[bytes], ready: list[bytes]) -> None:
        body: bytes | None
        for body in ready:
            await send({"type": "http.response.body", "body": body, "more_body": True})
        while (body := await anyio.to_thread.run_sync(_next, chunks)) is not None:
            await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _next(chunks: Iterator[bytes]) -> bytes | None:
    return next(chunks, None)  # typed apart: next's overloads confuse run_sync's inference
