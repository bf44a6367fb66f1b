"""Shared pieces of the webhook tests: strategies and a signed delivery.

``tests/conftest.py`` puts ``tests/`` on ``sys.path``, as it does for ``strategies``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st
from strategies import task_ids

from tasklife import TaskStatus
from tasklife.webhooks import sign, status_update_envelope

__all__ = [
    "AT",
    "SDK_STATUSES",
    "SECRET",
    "delivery",
    "finite_json",
    "metadata",
    "status_updates",
]

SECRET = "whsec_SENTINEL_5f1b2c"
"""A secret no message, repr or log line may contain."""
AT = datetime(2025, 5, 25, 9, 22, 22, 269116, tzinfo=UTC)
SDK_STATUSES = ("initializing", "started", "paused", "stopped", "finished")
"""The statuses the official SDK's models accept."""

finite_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
"""JSON values without NaN or Infinity (which JSON has not), non-ASCII text included."""

metadata = st.dictionaries(
    st.text(max_size=20), st.text(max_size=40) | finite_json, max_size=10
) | st.just({"campaign": "q4 \u2013 Zoë Ångström, café ☕ 東京 🚀"})
"""Task metadata: up to ten pairs of any text (the v1 API's limit), non-ASCII included."""


@st.composite
def status_updates(draw: st.DrawFn) -> dict[str, Any]:
    """An ``agent.task.status_update`` envelope for any task, status, time and metadata."""
    at = draw(st.datetimes(min_value=datetime(1971, 1, 1), timezones=st.just(UTC)))
    return status_update_envelope(
        draw(task_ids), draw(st.sampled_from(list(TaskStatus))), at=at,
        metadata=draw(metadata), failed_as="failed",
    )  # fmt: skip


def delivery(
    envelope: dict[str, Any], secret: str = SECRET, *, timestamp: datetime | int | str = AT
) -> tuple[bytes, dict[str, str]]:
    """The body (UTF-8 JSON, non-ASCII left as is) and headers a sender posts for ``envelope``."""
    body = json.dumps(envelope, ensure_ascii=False).encode()
    return body, sign(envelope, secret, timestamp=timestamp)
