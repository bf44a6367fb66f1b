"""The sync and the async httpx transports through one blocking API, for tests.

``make_kit(side, base_url, key, **options)`` yields a ``Kit`` for ``side`` ("sync" or
"async"): a ``faces.Face`` on a ``BrowserUseTransport`` or an ``AsyncBrowserUseTransport``
(async coroutines run to completion on one event loop per kit), plus ``sleeps``: every wait
the retry policy asked for (it never really sleeps).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import attrs
from faces import Face, faced

from tasklife.transports import RetryPolicy
from tasklife.transports.http import AsyncBrowserUseTransport, BrowserUseTransport

__all__ = ["TIMEOUT", "Kit", "make_kit"]

TIMEOUT = 0.3
"""The client's timeout: a ``Reply.slow`` answer is held back far longer (until teardown)."""


@attrs.define
class Kit:
    """One side (sync or async) seen through one blocking API."""

    face: Face
    sleeps: list[float]

    @property
    def transport(self) -> Any:
        """The transport, blocking."""
        return self.face.transport

    def create(self, *args: Any, **kwargs: Any) -> Any:
        """``RemoteTask.create`` on this side."""
        return self.face.create(*args, **kwargs)

    def attach(self, task_id: str) -> Any:
        """``RemoteTask.attach`` on this side."""
        return self.face.attach(task_id)


def make_kit(side: str, base_url: str, key: str, **options: Any) -> Iterator[Kit]:
    """A transport on ``base_url`` for ``side``, with a retry policy that records its sleeps."""
    sleeps: list[float] = []

    async def async_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    options.setdefault("timeout", TIMEOUT)
    options.setdefault("retry", RetryPolicy(jitter=0, sleep=sleeps.append, async_sleep=async_sleep))
    sync = BrowserUseTransport(key, base_url=base_url, **options)
    asynchronous = AsyncBrowserUseTransport(key, base_url=base_url, **options)
    try:
        for face in faced(side, sync, asynchronous):
            yield Kit(face, sleeps)
            if face.runner is not None:
                face.runner.run(asynchronous.close())
    finally:
        sync.close()
        if side == "sync":
            asyncio.run(asynchronous.close())
