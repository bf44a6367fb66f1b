"""When a failed call is tried again, and after how long; and the retry loop, as a flow.

The policy (the README's "Retry policy" says the same):

- **Reads** (``GET``) are retried after 429, 502, 503, 504 and connection failures
  (connection refused, connect timeout, a connection dropped before the answer): nothing was
  done, or reading again is harmless.
- **Writes** (pause/resume/stop, run-task) are retried only when the request surely had no
  effect: 429 and connect failures. A read timeout or a dropped connection after sending is
  *ambiguous* and never retried blindly (``RemoteTask`` then reads the remote status).
- A closed transport (``TransportClosed``) is never retried: nothing was sent, nothing will be.
- The delay before retry ``n`` (from 0) is ``min(base_delay * 2**n, max_delay)`` plus up to
  ``jitter`` seconds of random jitter; a ``Retry-After`` from the remote (seconds or an HTTP
  date) replaces it, capped at ``max_retry_after``.
- At most ``max_attempts`` attempts in all, no retry whose wait would end more than
  ``max_elapsed`` seconds after the first attempt began, and none past the call's deadline.

``sleep``, ``async_sleep``, ``random`` and ``monotonic`` are injectable, so tests never sleep.
``exchange`` is the loop itself: a flow (``tasklife.transports.flow``) that yields ``Send``
and ``Sleep`` steps, so the sync and the async transports run the same decisions.
"""

from __future__ import annotations

import asyncio
import logging
import random as _random
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

import attrs

from tasklife.errors import positive_int, seconds
from tasklife.transports.flow import Flow, Sleep
from tasklife.v1 import (
    ConnectionFailed,
    RateLimited,
    Request,
    ServerError,
    TransportClosed,
    TransportError,
    TransportTimeout,
    outcome,
    parse_retry_after,
)

__all__ = ["RetryPolicy", "Send", "exchange", "parse_retry_after"]

T = TypeVar("T")
log = logging.getLogger("tasklife.transports")

RETRYABLE_READ_STATUSES: Final = frozenset({429, 502, 503, 504})


def _seconds(instance: object, attribute: attrs.Attribute[float], value: object) -> None:
    seconds(attribute.name, value, zero=True)


def _attempts(instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    positive_int(attribute.name, value)


@attrs.frozen
class RetryPolicy:
    """Bounded, capped exponential backoff with jitter that honours ``Retry-After``.

    >>> RetryPolicy(jitter=0).backoff(3)
    4.0
    >>> RetryPolicy.never().max_attempts
    1
    """

    max_attempts: int = attrs.field(default=4, validator=_attempts)
    base_delay: float = attrs.field(default=0.5, validator=_seconds)
    max_delay: float = attrs.field(default=8.0, validator=_seconds)
    jitter: float = attrs.field(default=0.25, validator=_seconds)
    max_retry_after: float = attrs.field(default=10.0, validator=_seconds)
    max_elapsed: float = attrs.field(default=30.0, validator=_seconds)
    sleep: Callable[[float], None] = attrs.field(default=time.sleep, repr=False)
    async_sleep: Callable[[float], Awaitable[None]] = attrs.field(default=asyncio.sleep, repr=False)
    random: Callable[[], float] = attrs.field(default=_random.random, repr=False)
    monotonic: Callable[[], float] = attrs.field(default=time.monotonic, repr=False)

    @classmethod
    def never(cls) -> RetryPolicy:
        """A policy that makes exactly one attempt."""
        return cls(max_attempts=1)

    def backoff(self, retry: int) -> float:
        """The wait before retry number ``retry`` (0 for the first), jitter included."""
        wait = min(self.base_delay * 2.0**retry, self.max_delay)
        return wait + self.jitter * self.random() if self.jitter else wait

    def retryable(self, error: TransportError, *, write: bool) -> bool:
        """True when ``error`` may be retried for a read (``write=False``) or a write."""
        if isinstance(error, TransportClosed):
            return False
        if isinstance(error, RateLimited):
            return True
        if isinstance(error, ConnectionFailed) and not write:
            # A read has no effect, so a dropped connection (often a keep-alive connection the
            # server closed just as it was reused) is safe to try again.
            return True
        if isinstance(error, ConnectionFailed | TransportTimeout):
            return not error.may_have_reached_server
        if write:
            return False
        return isinstance(error, ServerError) and error.status_code in RETRYABLE_READ_STATUSES

    def delay(
        self, error: TransportError, *, write: bool, retry: int, elapsed: float
    ) -> float | None:
        """Seconds to wait before retry ``retry`` (from 0), or None to give up and raise."""
        if retry + 1 >= self.max_attempts or not self.retryable(error, write=write):
            return None
        if error.retry_after is not None:
            wait = min(max(error.retry_after, 0.0), self.max_retry_after)
        else:
            wait = self.backoff(retry)
        if elapsed + wait > self.max_elapsed:
            return None
        return wait


@attrs.frozen
class Send:
    """A step of ``exchange``: send ``request`` once, within ``seconds``; the reply is a
    ``tasklife.v1.Answer`` (or a ``TransportError`` thrown in)."""

    request: Request[Any]
    seconds: float


def exchange(request: Request[T], policy: RetryPolicy, seconds: float) -> Flow[T]:
    """One v1 call: send ``request``, read the answer, retry as ``policy`` says, all within
    ``seconds`` (the call's deadline; past it, ``TransportTimeout``)."""
    started = policy.monotonic()
    deadline = started + seconds
    attempt = 0
    while True:
        left = deadline - policy.monotonic()
        if left <= 0:
            raise TransportTimeout(
                "the call's deadline passed before an answer came",
                method=request.method, path=request.path, may_have_reached_server=attempt > 0,
                task_id=request.task_id,
            )  # fmt: skip
        try:
            answer = yield Send(request, left)
            return outcome(request, answer)
        except TransportError as failure:
            elapsed = policy.monotonic() - started
            delay = policy.delay(failure, write=request.write, retry=attempt, elapsed=elapsed)
            if delay is None or started + elapsed + delay >= deadline:
                raise
            attempt += 1
            log.info(
                "retrying %s %s in %.2f s (attempt %d of %d) after: %s",
                request.method, request.path, delay, attempt + 1, policy.max_attempts,
                failure.message,
            )  # fmt: skip
        yield Sleep(delay)
