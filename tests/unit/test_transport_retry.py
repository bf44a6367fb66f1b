"""RetryPolicy and the retry loop (``exchange``, a flow): pure, no sleeping, no I/O."""

from __future__ import annotations

from typing import Any

import pytest

from tasklife import InvalidArgument
from tasklife.transports import (
    ActionRefused,
    ConnectionFailed,
    ProtocolError,
    RateLimited,
    RetryPolicy,
    ServerError,
    TransportClosed,
    TransportError,
    TransportTimeout,
)
from tasklife.transports.flow import Sleep, drive
from tasklife.transports.retry import Send, exchange
from tasklife.v1 import Answer, get_status


def server(code: int) -> ServerError:
    """A 5xx error."""
    return ServerError("x", status_code=code, may_have_reached_server=True)


CASES = [
    # (error, retried for a read, retried for a write)
    pytest.param(RateLimited("x", status_code=429), True, True, id="429"),
    pytest.param(ConnectionFailed("refused"), True, True, id="connect-refused"),
    pytest.param(TransportTimeout("connect"), True, True, id="connect-timeout"),
    pytest.param(server(502), True, False, id="502"),
    pytest.param(server(503), True, False, id="503"),
    pytest.param(server(504), True, False, id="504"),
    pytest.param(server(500), False, False, id="500"),
    pytest.param(TransportTimeout("read", may_have_reached_server=True), False, False,
                 id="read-timeout"),
    pytest.param(ConnectionFailed("dropped", may_have_reached_server=True), True, False,
                 id="dropped"),
    pytest.param(ActionRefused("x", status_code=409), False, False, id="409"),
    pytest.param(ProtocolError("x"), False, False, id="protocol"),
    pytest.param(TransportClosed("closed"), False, False, id="closed"),
]  # fmt: skip


class TestRetryPolicy:
    @pytest.mark.parametrize(("error", "read", "write"), CASES)
    def test_what_is_retried(self, error: TransportError, read: bool, write: bool) -> None:
        """Reads: 429/502/503/504/connect/dropped; writes: only 429 and connect failures."""
        policy = RetryPolicy()
        assert (policy.retryable(error, write=False), policy.retryable(error, write=True)) == (
            read, write,
        )  # fmt: skip

    def test_backoff_doubles_up_to_the_cap(self) -> None:
        """0.5, 1, 2, 4, 8, 8 ... without jitter."""
        policy = RetryPolicy(jitter=0)
        assert [policy.backoff(n) for n in range(6)] == [0.5, 1, 2, 4, 8, 8]

    def test_jitter_is_added(self) -> None:
        """jitter * random() is added to the backoff."""
        policy = RetryPolicy(jitter=0.25, random=lambda: 0.5)
        assert policy.backoff(0) == 0.625

    def test_attempts_are_bounded(self) -> None:
        """With max_attempts=3 there are two retries, then None."""
        policy = RetryPolicy(max_attempts=3, jitter=0)
        error = server(503)
        delays = [policy.delay(error, write=False, retry=n, elapsed=0) for n in range(3)]
        assert delays == [0.5, 1.0, None]

    def test_total_time_is_bounded(self) -> None:
        """A retry whose wait would pass max_elapsed is not made."""
        policy = RetryPolicy(max_elapsed=5, jitter=0)
        assert policy.delay(server(503), write=False, retry=1, elapsed=4.5) is None
        assert policy.delay(server(503), write=False, retry=1, elapsed=3.5) == 1.0

    def test_retry_after_replaces_the_backoff_and_is_capped(self) -> None:
        """Retry-After 2 -> 2; Retry-After 600 -> max_retry_after."""
        policy = RetryPolicy(max_retry_after=10)
        short = RateLimited("x", retry_after=2.0)
        long = RateLimited("x", retry_after=600.0)
        assert policy.delay(short, write=True, retry=0, elapsed=0) == 2.0
        assert policy.delay(long, write=True, retry=0, elapsed=0) == 10.0

    def test_never_makes_one_attempt(self) -> None:
        """RetryPolicy.never(): no retry at all."""
        assert RetryPolicy.never().delay(server(503), write=False, retry=0, elapsed=0) is None

    @pytest.mark.parametrize(
        "kwargs",
        [{"max_attempts": 0}, {"max_attempts": 1.5}, {"base_delay": -1}, {"jitter": True},
         {"max_elapsed": float("nan")}, {"max_delay": float("inf")}],
        ids=["zero-attempts", "float-attempts", "negative-delay", "bool-jitter", "nan", "inf"],
    )  # fmt: skip
    def test_bad_settings(self, kwargs: dict[str, Any]) -> None:
        """Nonsense settings are InvalidArgument."""
        with pytest.raises(InvalidArgument):
            RetryPolicy(**kwargs)


STATUS = get_status("task_1")
RUNNING = Answer(200, {"content-type": "application/json"}, b'"running"')
BUSY = Answer(503, {"content-type": "application/json"}, b'{"detail": "busy"}')


class Clock:
    """A clock for ``RetryPolicy.monotonic`` that moves when the loop sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run(policy: RetryPolicy, clock: Clock, answers: list[Any], seconds: float = 60) -> Any:
    """Drive ``exchange`` for a status read over ``answers``; returns (result, steps seen)."""
    steps: list[Any] = []
    replies = iter(answers)

    def perform(step: Send) -> Answer:
        steps.append(step)
        reply = next(replies)
        if isinstance(reply, Exception):
            raise reply
        return reply  # type: ignore[no-any-return]

    def sleep(seconds: float) -> None:
        steps.append(Sleep(seconds))
        clock.now += seconds

    return drive(exchange(STATUS, policy, seconds), perform, sleep), steps


class TestExchange:
    def test_a_read_is_retried_then_succeeds(self) -> None:
        """503, 503, 200: two sleeps of the backoff, then the status."""
        clock = Clock()
        policy = RetryPolicy(jitter=0, monotonic=clock)
        status, steps = run(policy, clock, [BUSY, BUSY, RUNNING])
        assert status == "running"
        assert [type(s).__name__ for s in steps] == ["Send", "Sleep", "Send", "Sleep", "Send"]
        assert [s.seconds for s in steps if isinstance(s, Sleep)] == [0.5, 1.0]

    def test_each_attempt_gets_the_time_left(self) -> None:
        """The deadline is shared: the second attempt is given what the first left."""
        clock = Clock()
        _, steps = run(RetryPolicy(jitter=0, monotonic=clock), clock, [BUSY, RUNNING], seconds=10)
        assert [s.seconds for s in steps if isinstance(s, Send)] == [10, 9.5]

    def test_no_retry_past_the_deadline(self) -> None:
        """A retry whose wait would end past the call's deadline is not made."""
        clock = Clock()
        with pytest.raises(ServerError):
            run(RetryPolicy(jitter=0, monotonic=clock), clock, [BUSY, RUNNING], seconds=0.4)

    def test_no_time_no_request(self) -> None:
        """A call with no time left is a TransportTimeout before anything is sent."""
        clock = Clock()
        with pytest.raises(TransportTimeout) as caught:
            run(RetryPolicy(monotonic=clock), clock, [], seconds=0)
        assert caught.value.may_have_reached_server is False

    def test_a_closed_transport_is_raised_at_once(self) -> None:
        """TransportClosed thrown in: raised, no sleep."""
        clock = Clock()
        closed = TransportClosed("closed")
        with pytest.raises(TransportClosed):
            run(RetryPolicy(monotonic=clock), clock, [closed, RUNNING])
        assert clock.now == 0
