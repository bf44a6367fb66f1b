"""``RequestGuard``, the one ASGI layer in front of every route: a property over any header.

Driven in-process (an ASGI call, no socket, no event loop): whatever bytes come as
``Authorization``, the request reaches the app, with the key's owner in its scope, exactly when
they are ``Bearer <a configured key>``; anything else is 401 with the challenge, and the app
never runs.
"""

from __future__ import annotations

import json
from collections.abc import Coroutine
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from starlette.types import Message, Scope

from tasklife.server import key_fingerprint
from tasklife.server.app import PUBLIC_PATHS
from tasklife.server.middleware import OWNER_SCOPE_KEY, ApiKeys, RequestGuard

KEYS = ("guard-key-0a1b2c", "second-key-9f8e")
PATHS = ["/api/v1/tasks", "/api/v1/task/task_1", "/emulator/v1/task/t/history", *PUBLIC_PATHS]


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine that never waits on anything (no event loop needed, so it is fast)."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    coroutine.close()
    raise AssertionError("the guard waited on something")


def call(path: str, authorization: bytes | None) -> tuple[int, Scope | None]:
    """The status the guard answers ``path`` with, and the scope the app saw (None: not run)."""
    seen: list[Scope] = []
    sent: list[Message] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        seen.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    guard = RequestGuard(
        app,
        keys=ApiKeys(KEYS, key_fingerprint),
        public_paths=PUBLIC_PATHS,
        max_body_bytes=1024,
        access_log=False,
    )
    headers = [] if authorization is None else [(b"authorization", authorization)]
    scope = {"type": "http", "method": "GET", "path": path, "headers": headers}
    run(guard(scope, receive, send))
    status: int = sent[0]["status"]
    if status == 401:
        assert dict(sent[0]["headers"])[b"www-authenticate"] == b"Bearer"
        assert json.loads(sent[1]["body"]) == {"detail": "Missing or invalid API key"}
    return status, seen[0] if seen else None


def authorized(value: bytes | None) -> str | None:
    """The key ``value`` authenticates, by the rule the guard promises."""
    if value is None:
        return None
    scheme, _, token = value.partition(b" ")
    token = token.strip()
    if scheme.lower() != b"bearer":
        return None
    return next((key for key in KEYS if token == key.encode()), None)


def near_misses(key: str) -> st.SearchStrategy[bytes]:
    """Headers close to a valid one: other cases, spaces, prefixes, suffixes, other schemes."""
    return st.builds(
        lambda scheme, pad, token, tail: scheme + b" " + pad + token + tail,
        st.sampled_from([b"Bearer", b"bearer", b"BEARER", b"Basic", b"Token", b"Bearer:", b""]),
        st.sampled_from([b"", b" ", b"  ", b"\t"]),
        st.sampled_from([key.encode(), key.encode()[:-1], key.upper().encode(), b""]),
        st.sampled_from([b"", b" ", b"x", b" " + key.encode(), b"\x00", b"\xff"]),
    )


HEADERS = st.none() | st.binary(max_size=64) | near_misses(KEYS[0]) | near_misses(KEYS[1])


class TestRequestGuard:
    @given(path=st.sampled_from(PATHS), value=HEADERS)
    def test_only_a_configured_bearer_key_passes(self, path: str, value: bytes | None) -> None:
        """The app runs, with the key's owner, iff the header is Bearer <a configured key>."""
        status, scope = call(path, value)
        key = authorized(value)
        if path in PUBLIC_PATHS:
            assert status == 200
        elif key is None:
            assert (status, scope) == (401, None)
        else:
            assert scope is not None
            assert (status, scope[OWNER_SCOPE_KEY]) == (200, key_fingerprint(key))

    def test_every_key_passes(self) -> None:
        """Each configured key authenticates as its own owner."""
        for key in KEYS:
            status, scope = call("/api/v1/tasks", b"Bearer " + key.encode())
            assert scope is not None
            assert (status, scope[OWNER_SCOPE_KEY]) == (200, key_fingerprint(key))
