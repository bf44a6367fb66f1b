"""RetryPolicy and Retry-After parsing: pure, no sleeping."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tasklife import InvalidTaskData
from tasklife.transports import (
    ActionRefused,
    ConnectionFailed,
    ProtocolError,
    RateLimited,
    RetryPolicy,
    ServerError,
    TransportError,
    TransportTimeout,
)
from tasklife.transports.retry import parse_retry_after


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
         {"max_elapsed": float("nan")}],
        ids=["zero-attempts", "float-attempts", "negative-delay", "bool-jitter", "nan"],
    )  # fmt: skip
    def test_bad_settings(self, kwargs: dict[str, Any]) -> None:
        """Nonsense settings are InvalidTaskData."""
        with pytest.raises(InvalidTaskData):
            RetryPolicy(**kwargs)


NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


class TestParseRetryAfter:
    @pytest.mark.parametrize(
        ("value", "seconds"),
        [("3", 3.0), (" 1.5 ", 1.5), ("-4", 0.0), (None, None), ("", None), ("soon", None),
         ("nan", None), ("inf", None), ("Thu, 01 Jan 2026 12:00:30 GMT", 30.0),
         ("Thu, 01 Jan 2026 11:00:00 GMT", 0.0)],
        ids=["int", "float", "negative", "none", "empty", "word", "nan", "inf", "date", "past"],
    )  # fmt: skip
    def test_values(self, value: str | None, seconds: float | None) -> None:
        """Seconds or an HTTP date; unreadable or absent -> None; never negative."""
        assert parse_retry_after(value, now=NOW) == seconds
