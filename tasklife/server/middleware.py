"""``RequestGuard``: one pure ASGI layer in front of the app: auth, body limit, access log.

It checks the bearer key (every configured key compared with ``hmac.compare_digest``) and
puts the key's owner fingerprint in the scope, refuses bodies over the limit (413), and logs
one line per request. Pure ASGI (not Starlette's ``BaseHTTPMiddleware``, nor a FastAPI
dependency) so a request pays a few function calls for all three (the measurement that chose
this is in BENCHMARKS.md).

The log line holds the method, the path (without the query string), the status and the time
taken; never a header, so never the API key.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, Final

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tasklife.errors import InvalidArgument

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "OWNER_SCOPE_KEY",
    "UNAUTHORIZED_BODY",
    "ApiKeys",
    "RequestGuard",
    "checked_keys",
]

OWNER_SCOPE_KEY: Final = "tasklife.owner"
"""Where ``RequestGuard`` leaves the authenticated owner's fingerprint in the ASGI scope."""

UNAUTHORIZED_BODY: Final = b'{"detail":"Missing or invalid API key"}'

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""Request bodies larger than this (1 MiB) are refused with 413."""

log = logging.getLogger("tasklife.server.access")


def _too_large(limit: int) -> dict[str, Any]:
    return {"detail": f"Request body too large: the limit is {limit} bytes"}


def checked_keys(api_keys: str | Iterable[str]) -> tuple[str, ...]:
    """The keys, once each is known to be one a client can send (else ``InvalidArgument``).

    A bearer key travels in an HTTP header, which a client can only send as printable ASCII,
    and the guard strips the spaces around the token it receives: a key that is empty, has
    whitespace around it, or holds a control or non-ASCII character could never authenticate,
    so it is refused at start. The message never shows the key.
    """
    keys: list[object] = [api_keys] if isinstance(api_keys, str) else list(api_keys)
    if not keys:
        raise InvalidArgument("api_keys", "must hold at least one key")
    for number, key in enumerate(keys, 1):
        problem = _key_problem(key)
        if problem is not None:
            which = "the key" if len(keys) == 1 else f"key {number} of {len(keys)}"
            raise InvalidArgument("api_keys", f"{which} {problem}")
    return tuple(str(key) for key in keys)


def _key_problem(key: object) -> str | None:
    if not isinstance(key, str):
        return f"is a {type(key).__name__}, not a string"
    if not key.strip():
        return "is empty"
    if key[:1].isspace() or key[-1:].isspace():
        return "has whitespace around it, which no request can carry: remove it"
    if not (key.isascii() and key.isprintable()):
        return "holds a control or non-ASCII character, which no HTTP client can send"
    return None


class ApiKeys:
    """The accepted bearer keys, each with the owner fingerprint its tasks are stored under.

    Its repr never shows a key (Starlette prints middleware options in reprs).
    """

    __slots__ = ("_pairs",)

    def __init__(self, keys: Sequence[str], fingerprint: Callable[[str], str]) -> None:
        self._pairs = tuple((key.encode(), fingerprint(key)) for key in keys)

    def __repr__(self) -> str:
        return f"<ApiKeys: {len(self._pairs)} key(s), redacted>"

    def owner(self, token: bytes) -> str | None:
        """The fingerprint for ``token``, or None; every key compared in constant time."""
        found = None
        for key, fingerprint in self._pairs:
            if hmac.compare_digest(token, key):
                found = fingerprint
        return found


class RequestGuard:
    """Authenticate, refuse bodies over ``max_body_bytes`` (413), log one line per request.

    ``keys`` holds the accepted keys (see ``ApiKeys``); the owner fingerprint of the key a
    request authenticated with goes into the scope under ``OWNER_SCOPE_KEY``. Requests to
    ``public_paths`` need no key; every other request without a valid one gets 401.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        keys: ApiKeys,
        public_paths: Collection[str],
        max_body_bytes: int,
        access_log: bool,
    ) -> None:
        self.app = app
        self.keys = keys
        self.public_paths = frozenset(public_paths)
        self.max_body_bytes = max_body_bytes
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self.access_log:
            await self._guarded(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before it answers

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._guarded(scope, receive, send_and_note)
        finally:
            log.info(
                "%s %s %d %.1fms",
                scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - started) * 1000,
            )

    def _owner(self, authorization: bytes | None) -> str | None:
        if authorization is None:
            return None
        scheme, _, token = authorization.partition(b" ")
        token = token.strip()
        if scheme.lower() != b"bearer" or not token:
            return None
        return self.keys.owner(token)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.max_body_bytes
        declared: int | None = None
        authorization: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = None
            elif name == b"authorization":
                authorization = value
        path: str = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if path not in self.public_paths:
            owner = self._owner(authorization)
            if owner is None:
                await _answer(send, 401, UNAUTHORIZED_BODY, _CHALLENGE)
                return
            scope[OWNER_SCOPE_KEY] = owner
        if declared is not None and declared > limit:
            await _answer(send, 413, json.dumps(_too_large(limit)).encode(), ())
            return
        if declared is not None:
            await self.app(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, _too_large(limit)["detail"])
            return message

        await self.app(scope, counted, send)


_CHALLENGE: Final = ((b"www-authenticate", b"Bearer"),)


async def _answer(
    send: Send, status: int, content: bytes, headers: Sequence[tuple[bytes, bytes]]
) -> None:
    """Answer without the app; the client may have sent a body nobody read, so close."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(content)).encode()),
                (b"connection", b"close"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})
