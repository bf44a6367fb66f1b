"""tasklife.webhooks used as a receiver and a sender would; type-checked by mypy, never run."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime

from tasklife import TaskStatus
from tasklife.webhooks import (
    IgnoredEvent,
    InvalidSignature,
    MalformedWebhook,
    StatusUpdateEvent,
    TestEvent,
    WebhookEvent,
    WebhookTooOld,
    body_digest,
    sign,
    status_update_envelope,
    verify,
    webhook_test_envelope,
)


def receive(body: bytes, headers: Mapping[str, str]) -> int:
    """A framework-neutral receiver: the HTTP status to answer."""
    try:
        event: WebhookEvent = verify(body, headers, ["new-secret", "old-secret"])
    except (InvalidSignature, WebhookTooOld):
        return 401
    except MalformedWebhook as e:
        print(e.field, e.problem)
        return 400
    if isinstance(event, StatusUpdateEvent):
        task_id: str = event.task_id
        status: TaskStatus = event.status
        at: datetime = event.timestamp
        reference: str = event.digest
        print(task_id, status, at, reference, event.remote_status, dict(event.metadata))
    elif isinstance(event, TestEvent):
        print(event.timestamp)
    elif isinstance(event, IgnoredEvent):
        print(event.reason, event.value, event.detail)
    return 200


def send(task_id: str) -> tuple[bytes, dict[str, str], str]:
    """A sender: the body, the headers and the digest the receiver will see."""
    at = datetime.now(UTC)
    envelope = status_update_envelope(task_id, TaskStatus.RUNNING, at=at, metadata={"k": "v"})
    headers: dict[str, str] = sign(envelope, "secret", timestamp=at)
    ping = webhook_test_envelope(at=at)
    print(sign(ping, "secret", timestamp=int(at.timestamp())))
    return json.dumps(envelope).encode(), headers, body_digest(envelope)


pairs: list[tuple[bytes, bytes]] = [(b"x-browser-use-timestamp", b"1748164942")]
receive(b"{}", {"X-Browser-Use-Timestamp": "1748164942"})
verify(b"{}", pairs, "secret", tolerance=None)
