"""One flow, two drivers: the multi-step logic of the transports, written once, sans I/O.

A flow is a generator that yields steps and receives their results (or has their error
thrown into it), the shape of httpx's ``Auth.auth_flow``. It decides; it does no I/O. Two thin
drivers run it: ``drive`` (blocking) and ``adrive`` (asyncio). Each hands ``Sleep`` steps to
the ``sleep`` it was given and every other step to ``perform``, which does the I/O.

- ``Call(verb, args, kwargs, seconds=, shield=)``: call ``verb`` on a transport.
  ``seconds`` bounds the call (the transports read it through ``time_left()``);
  ``shield=True`` marks the point of no return: from that step on, ``adrive`` runs the flow to
  its end even if the caller is cancelled, then re-raises the caller's cancellation.
- ``Sleep(seconds)``: wait.

Any ``Exception`` a step raises is thrown into the flow; ``BaseException``s (a cancellation
before the point of no return, ``KeyboardInterrupt``) end it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, Final, Generic, TypeVar

import attrs

__all__ = ["Call", "Flow", "Sleep", "adrive", "drive", "time_left", "within"]

T = TypeVar("T")

Flow = Generator[Any, Any, T]
"""A flow that yields steps and returns a ``T``."""


@attrs.frozen
class Call:
    """A step: call ``verb(*args, **kwargs)`` on a transport (see the module docstring)."""

    verb: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    seconds: float | None = None
    shield: bool = False


@attrs.frozen
class Sleep:
    """A step: wait ``seconds``."""

    seconds: float


_DEADLINE: Final[ContextVar[float | None]] = ContextVar("tasklife_deadline", default=None)


@contextlib.contextmanager
def within(seconds: float | None) -> Iterator[None]:
    """Bound every transport call made inside to ``seconds`` from now (None: no new bound).

    Bounds nest: the earlier deadline wins.
    """
    if seconds is None:
        yield
        return
    at = time.monotonic() + seconds
    current = _DEADLINE.get()
    token = _DEADLINE.set(at if current is None else min(at, current))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def time_left() -> float | None:
    """Seconds left before the innermost ``within`` deadline (None: there is none)."""
    at = _DEADLINE.get()
    return None if at is None else at - time.monotonic()


@attrs.frozen
class _Return(Generic[T]):
    value: T


def _advance(flow: Flow[T], reply: Any, failure: Exception | None) -> Any:
    """Resume ``flow`` with ``reply`` (or throw ``failure`` in): its next step, or ``_Return``."""
    try:
        return flow.send(reply) if failure is None else flow.throw(failure)
    except StopIteration as stop:
        return _Return(stop.value)


def drive(flow: Flow[T], perform: Callable[[Any], Any], sleep: Callable[[float], object]) -> T:
    """Run ``flow`` to its end, blocking."""
    step = _advance(flow, None, None)
    while not isinstance(step, _Return):
        reply, failure = None, None
        try:
            reply = sleep(step.seconds) if isinstance(step, Sleep) else perform(step)
        except Exception as error:
            failure = error
        step = _advance(flow, reply, failure)
    return step.value  # type: ignore[no-any-return]


async def adrive(
    flow: Flow[T],
    perform: Callable[[Any], Awaitable[Any]],
    sleep: Callable[[float], Awaitable[object]],
) -> T:
    """Run ``flow`` to its end on the running event loop (see ``Call.shield``)."""
    return await _arun(flow, _advance(flow, None, None), perform, sleep, shielded=False)


async def _arun(
    flow: Flow[T],
    step: Any,
    perform: Callable[[Any], Awaitable[Any]],
    sleep: Callable[[float], Awaitable[object]],
    *,
    shielded: bool,
) -> T:
    while not isinstance(step, _Return):
        if not shielded and isinstance(step, Call) and step.shield:
            return await _to_the_end(_arun(flow, step, perform, sleep, shielded=True))
        reply, failure = None, None
        try:
            reply = await (sleep(step.seconds) if isinstance(step, Sleep) else perform(step))
        except Exception as error:
            failure = error
        step = _advance(flow, reply, failure)
    return step.value  # type: ignore[no-any-return]


async def _to_the_end(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` to its end even if the caller is cancelled meanwhile; then, if it was,
    raise the caller's cancellation (so ``asyncio.timeout``/``wait_for`` still see it)."""
    inner = asyncio.ensure_future(work)
    cancelled: asyncio.CancelledError | None = None
    while not inner.done():
        try:
            await asyncio.wait((inner,))
        except asyncio.CancelledError as error:
            cancelled = error
    if cancelled is not None:
        if not inner.cancelled():
            inner.exception()  # retrieved: the caller hears its cancellation instead
        raise cancelled
    return inner.result()
