"""The sync and the async face of the transports behind one blocking API: one test, two faces.

A test takes a face (``"sync"`` or ``"async"``) and drives it through the same calls; the
async face runs each coroutine to completion on its own event loop, so every assertion holds
for both ``RemoteTask`` and ``AsyncRemoteTask``, both in-memory transports and both httpx
transports.

- ``Blocking(target, runner)``: ``target``'s coroutine methods, run to completion on
  ``runner``; other attributes pass through.
- ``Face``: the transport as the test sees it (blocking), ``create``/``attach``/``bind``
  building a ``RemoteTask`` or a blocking ``AsyncRemoteTask``, ``sleep(clock)`` (the fake
  sleep of that face) and ``run(coroutine_or_value)``.
- ``in_memory(face)``: a ``Face`` on a fresh ``InMemoryTransport`` (``face.remote`` holds its
  state and test controls, shared by both faces).
- ``FakeClock``: a monotonic clock that moves only when its sleeps are called.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import attrs

from tasklife import Task
from tasklife.transports import (
    AsyncInMemoryTransport,
    AsyncRemoteTask,
    InMemoryTransport,
    RemoteTask,
)

__all__ = ["FACES", "Blocking", "Face", "FakeClock", "in_memory"]

FACES = ("sync", "async")


class Blocking:
    """Runs an async object's coroutine methods to completion on one event loop."""

    def __init__(self, target: Any, runner: asyncio.Runner) -> None:
        self.target = target
        self._runner = runner

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.target, name)
        if inspect.iscoroutinefunction(value):
            return lambda *a, **k: self._runner.run(value(*a, **k))
        return value

    def __repr__(self) -> str:
        return repr(self.target)


class FakeClock:
    """A monotonic clock that only moves when the fake sleep is called."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


@attrs.define
class Face:
    """One face (sync or async) behind one blocking API."""

    name: str
    transport: Any
    create: Callable[..., Any]
    attach: Callable[..., Any]
    bind: Callable[[Task], Any]
    runner: asyncio.Runner | None = None
    remote: Any = None

    def sleep(self, clock: FakeClock) -> Callable[[float], Any]:
        """The fake sleep this face's ``wait()`` takes."""
        return clock.sleep if self.runner is None else clock.async_sleep

    def run(self, value: Any) -> Any:
        """``value``, or the coroutine's result on this face's loop."""
        return self.runner.run(value) if inspect.iscoroutine(value) and self.runner else value


def faced(name: str, sync_transport: Any, async_transport: Any) -> Iterator[Face]:
    """A ``Face`` over the given transports (the one of ``name`` is used)."""
    if name == "sync":
        yield Face(
            name,
            sync_transport,
            lambda *a, **k: RemoteTask.create(sync_transport, *a, **k),
            lambda *a, **k: RemoteTask.attach(sync_transport, *a, **k),
            lambda task: RemoteTask(sync_transport, task),
        )
        return
    with asyncio.Runner() as runner:

        def blocking(coroutine: Any) -> Blocking:
            return Blocking(runner.run(coroutine), runner)

        yield Face(
            name,
            Blocking(async_transport, runner),
            lambda *a, **k: blocking(AsyncRemoteTask.create(async_transport, *a, **k)),
            lambda *a, **k: blocking(AsyncRemoteTask.attach(async_transport, *a, **k)),
            lambda task: Blocking(AsyncRemoteTask(async_transport, task), runner),
            runner,
        )


def in_memory(name: str, remote: InMemoryTransport | None = None) -> Iterator[Face]:
    """A ``Face`` on an in-memory remote; ``face.remote`` is the ``InMemoryTransport``."""
    remote = InMemoryTransport() if remote is None else remote
    for face in faced(name, remote, AsyncInMemoryTransport(remote)):
        face.remote = remote
        yield face
