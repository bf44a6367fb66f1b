"""Interop with the official SDK's webhook helpers (browser-use-sdk >= 2.0.6, < 3), both ways."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from browser_use_sdk.lib.webhooks import (
    WebhookAgentTaskStatusUpdate,
    WebhookTest,
    create_webhook_signature,
    verify_webhook_event_signature,
)
from hypothesis import given
from hypothesis import strategies as st
from strategies import task_ids
from webhooks_support import AT, SDK_STATUSES, SECRET, delivery, metadata

from tasklife import TaskStatus
from tasklife.webhooks import (
    REMOTE_STATUSES,
    InvalidSignature,
    StatusUpdateEvent,
    TestEvent,
    body_digest,
    status_update_envelope,
    verify,
    webhook_test_envelope,
)

NOW = AT + timedelta(seconds=5)
STAMP = str(int(AT.timestamp()))
META = {"campaign": "q4 \u2013 Zoë Ångström", "note": "café ☕ 東京 🚀", "plain": "ascii"}


def sdk_envelope(status: str, meta: dict[str, Any]) -> dict[str, Any]:
    """An envelope as the Browser Use service sends it, written out by hand."""
    return {
        "type": "agent.task.status_update",
        "timestamp": AT.isoformat(),
        "payload": {"session_id": "cd9cc7bf-2d8b-4d70-9f3c-0a3e4c1b2d5e",
                    "task_id": "5b73fb3f-8e4a-4c8b-a1f0-7d2c9e6b4a13", "status": status,
                    "metadata": meta},
    }  # fmt: skip


def sdk_verifies(body: bytes, headers: dict[str, str], secret: str = SECRET) -> Any:
    return verify_webhook_event_signature(
        body.decode(), headers["X-Browser-Use-Signature"], headers["X-Browser-Use-Timestamp"],
        secret,
    )  # fmt: skip


class TestSdkSignsTasklifeVerifies:
    @pytest.mark.parametrize("status", SDK_STATUSES)
    def test_each_sdk_status(self, status: str) -> None:
        """What the SDK signs, tasklife verifies, for each of its five statuses."""
        envelope = sdk_envelope(status, META)
        headers = {
            "X-Browser-Use-Timestamp": STAMP,
            "X-Browser-Use-Signature": create_webhook_signature(envelope, STAMP, SECRET),
        }
        body = json.dumps(envelope, ensure_ascii=False).encode()  # fmt: skip
        event = verify(body, headers, SECRET, now=NOW)
        assert isinstance(event, StatusUpdateEvent)
        assert (event.status, event.remote_status) == (REMOTE_STATUSES[status], status)
        assert dict(event.metadata) == META
        assert event.timestamp == AT
        assert event.digest == body_digest(envelope)

    def test_test_event_with_iso_header(self) -> None:
        """The SDK's test event, signed with an ISO-8601 timestamp header as its examples do."""
        envelope = {"type": "test", "timestamp": "2024-03-21T12:00:00Z", "payload": {"test": "ok"}}
        stamp = "2024-03-21T12:00:00Z"
        headers = {
            "X-Browser-Use-Timestamp": stamp,
            "X-Browser-Use-Signature": create_webhook_signature(envelope, stamp, SECRET),
        }
        event = verify(json.dumps(envelope).encode(), headers, SECRET,
                       now=datetime(2024, 3, 21, 12, 2, tzinfo=UTC))  # fmt: skip
        assert isinstance(event, TestEvent)

    def test_other_secret_is_refused(self) -> None:
        """An SDK signature with another secret is refused by tasklife."""
        envelope = sdk_envelope("finished", META)
        headers = {
            "X-Browser-Use-Timestamp": STAMP,
            "X-Browser-Use-Signature": create_webhook_signature(envelope, STAMP, "other"),
        }
        with pytest.raises(InvalidSignature):  # fmt: skip
            verify(json.dumps(envelope).encode(), headers, SECRET, now=NOW)

    @given(task_id=task_ids, status=st.sampled_from(SDK_STATUSES), meta=metadata)
    def test_any_metadata(self, task_id: str, status: str, meta: dict[str, Any]) -> None:
        """For any task id and metadata, what the SDK signs tasklife verifies to the same data."""
        envelope = sdk_envelope(status, meta)
        envelope["payload"]["task_id"] = task_id
        headers = {
            "X-Browser-Use-Timestamp": STAMP,
            "X-Browser-Use-Signature": create_webhook_signature(envelope, STAMP, SECRET),
        }
        event = verify(json.dumps(envelope, ensure_ascii=False).encode(), headers, SECRET,
                       now=NOW)  # fmt: skip
        assert isinstance(event, StatusUpdateEvent)
        assert (event.task_id, event.remote_status) == (task_id, status)
        assert dict(event.metadata) == meta


class TestTasklifeSignsSdkVerifies:
    @pytest.mark.parametrize(
        "status",
        [TaskStatus.CREATED, TaskStatus.RUNNING, TaskStatus.PAUSED, TaskStatus.STOPPED,
         TaskStatus.FINISHED, TaskStatus.FAILED],
        ids=lambda s: s.value,
    )  # fmt: skip
    def test_each_status(self, status: TaskStatus) -> None:
        """What tasklife signs, the SDK verifies and reads back, failed sent as stopped."""
        envelope = status_update_envelope("task_1", status, at=AT, metadata=META)
        model = sdk_verifies(*delivery(envelope))
        assert isinstance(model, WebhookAgentTaskStatusUpdate)
        assert model.payload.status == envelope["payload"]["status"]
        assert model.payload.task_id == "task_1"
        assert model.payload.session_id == envelope["payload"]["session_id"]
        assert model.payload.metadata == META
        assert model.timestamp == AT

    def test_test_event(self) -> None:
        """tasklife's test event is the SDK's WebhookTest."""
        model = sdk_verifies(*delivery(webhook_test_envelope(at=AT)))
        assert isinstance(model, WebhookTest)

    def test_failed_word_is_refused_by_the_sdk(self) -> None:
        """Why failed goes out as stopped by default: the SDK refuses a 'failed' status."""
        envelope = status_update_envelope("t", TaskStatus.FAILED, at=AT, failed_as="failed")
        assert sdk_verifies(*delivery(envelope)) is None

    def test_other_secret_is_refused(self) -> None:
        """The SDK refuses what tasklife signed with another secret."""
        envelope = status_update_envelope("t", TaskStatus.RUNNING, at=AT)
        assert sdk_verifies(*delivery(envelope, "other")) is None

    @given(task_id=task_ids, status=st.sampled_from(SDK_STATUSES), meta=metadata)
    def test_any_metadata(self, task_id: str, status: str, meta: dict[str, Any]) -> None:
        """For any task id and metadata, what tasklife signs the SDK verifies to the same data."""
        lifecycle = REMOTE_STATUSES[status]
        envelope = status_update_envelope(task_id, lifecycle, at=AT, metadata=meta)
        model = sdk_verifies(*delivery(envelope, timestamp=int(AT.timestamp())))
        assert isinstance(model, WebhookAgentTaskStatusUpdate)
        assert (model.payload.task_id, model.payload.status) == (task_id, status)
        assert model.payload.metadata == meta
