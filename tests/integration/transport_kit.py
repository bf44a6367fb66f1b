"""Drive the sync and the async httpx transports through one blocking API, for tests.

``make_kit(side, base_url, key)`` yields a ``Kit`` for ``side`` ("sync" or "async"): the
transport (async coroutines run to completion on one event loop per kit), ``create`` and
``attach`` building a ``RemoteTask``/``AsyncRemoteTask`` (wrapped the same way), and
``sleeps``: every wait the retry policy asked for (it never really sleeps).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import attrs

from tasklife.transports import AsyncRemoteTask, RemoteTask, RetryPolicy
from tasklife.transports.http import AsyncBrowserUseTransport, BrowserUseTransport

__all__ = ["TIMEOUT", "Blocking", "Kit", "make_kit"]

TIMEOUT = 0.3
"""The client's timeout: a ``Reply.slow`` answer is held back far longer (until teardown)."""


class Blocking:
    """Runs an async object's coroutine methods to completion on one event loop."""

    def __init__(self, target: Any, runner: asyncio.Runner) -> None:
        self._target = target
        self._runner = runner

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if inspect.iscoroutinefunction(value):
            return lambda *a, **k: self._runner.run(value(*a, **k))
        return value


@attrs.define
class Kit:
    """One side (sync or async) seen through one blocking API."""

    transport: Any
    create: Callable[..., Any]
    attach: Callable[..., Any]
    sleeps: list[float]


def make_kit(side: str, base_url: str, key: str) -> Iterator[Kit]:
    """A transport on ``base_url`` for ``side``, with a retry policy that records its sleeps."""
    sleeps: list[float] = []

    async def async_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    retry = RetryPolicy(jitter=0, sleep=sleeps.append, async_sleep=async_sleep)
    if side == "sync":
        with BrowserUseTransport(key, base_url=base_url, timeout=TIMEOUT, retry=retry) as sync:
            yield Kit(
                sync,
                lambda *a, **k: RemoteTask.create(sync, *a, **k),
                lambda task_id: RemoteTask.attach(sync, task_id),
                sleeps,
            )
        return
    with asyncio.Runner() as runner:
        transport = AsyncBrowserUseTransport(key, base_url=base_url, timeout=TIMEOUT, retry=retry)
        try:
            yield Kit(
                Blocking(transport, runner),
                lambda *a, **k: Blocking(runner.run(AsyncRemoteTask.create(transport, *a, **k)),
                                         runner),
                lambda task_id: Blocking(runner.run(AsyncRemoteTask.attach(transport, task_id)),
                                         runner),
                sleeps,
            )  # fmt: skip
        finally:
            runner.run(transport.close())
