"""What a verified delivery holds: a task's status update, the test event, or an ignored one."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, ClassVar, Final, TypeAlias

import attrs

from tasklife.errors import InvalidTaskData
from tasklife.lifecycle import TaskStatus
from tasklife.task import check_id
from tasklife.webhooks._errors import MalformedWebhook
from tasklife.webhooks._scheme import json_kind, parse_time

__all__ = [
    "REMOTE_STATUSES",
    "REMOTE_WORDS",
    "STATUS_UPDATE",
    "TEST",
    "IgnoreReason",
    "IgnoredEvent",
    "StatusUpdateEvent",
    "TestEvent",
    "WebhookEvent",
    "event_from",
    "shown",
]

STATUS_UPDATE: Final = "agent.task.status_update"
"""The ``type`` of a task's status event."""
TEST: Final = "test"
"""The ``type`` of the event sent when a webhook is created."""

_FROM_REMOTE: Final = {
    "initializing": TaskStatus.CREATED,
    "started": TaskStatus.RUNNING,
    "paused": TaskStatus.PAUSED,
    "stopped": TaskStatus.STOPPED,
    "finished": TaskStatus.FINISHED,
    "failed": TaskStatus.FAILED,
}
REMOTE_STATUSES: Final[Mapping[str, TaskStatus]] = MappingProxyType(_FROM_REMOTE)
"""A webhook's status word -> the lifecycle status, one to one. ``failed`` is tasklife's richer
status; the Browser Use service itself sends ``stopped`` for a failed task."""
REMOTE_WORDS: Final[Mapping[TaskStatus, str]] = MappingProxyType(
    {status: word for word, status in _FROM_REMOTE.items()}
)
"""The inverse of ``REMOTE_STATUSES``: a lifecycle status -> its webhook word."""

_SHOWN: Final = 40


@attrs.frozen
class StatusUpdateEvent:
    """An ``agent.task.status_update``: task ``task_id`` reached ``status`` at ``timestamp``.

    ``timestamp`` is the remote's event time (the envelope's, aware UTC); ``digest`` identifies
    the event across retried deliveries. As a domain observation: ``(task_id, status,
    at=timestamp, reference=digest)``.
    """

    type: ClassVar[str] = STATUS_UPDATE
    task_id: str
    session_id: str
    status: TaskStatus
    metadata: Mapping[str, Any] = attrs.field(hash=False)
    timestamp: datetime
    digest: str

    @property
    def remote_status(self) -> str:
        """The status as the webhook said it (``started`` for running, ...)."""
        return REMOTE_WORDS[self.status]


@attrs.frozen
class TestEvent:
    """The ``test`` event Browser Use sends when a webhook is created."""

    __test__: ClassVar[bool] = False  # not a pytest test class
    type: ClassVar[str] = TEST
    payload: Mapping[str, Any] = attrs.field(hash=False)
    timestamp: datetime
    digest: str


class IgnoreReason(enum.StrEnum):
    """Why an authentic event was ignored."""

    UNKNOWN_TYPE = "unknown type"
    UNKNOWN_STATUS = "unknown status"


@attrs.frozen
class IgnoredEvent:
    """An authentic event tasklife does not act on (a new type or status); not an error.

    ``value`` is the unknown type or status, ``body`` the whole envelope (read-only) and
    ``timestamp`` its event time when it has a readable one.
    """

    type: str
    reason: IgnoreReason
    value: str
    body: Mapping[str, Any] = attrs.field(hash=False, repr=False)
    timestamp: datetime | None
    digest: str

    @property
    def detail(self) -> str:
        """A sentence for a log line."""
        return f"ignored: {self.reason} {shown(self.value)}"


WebhookEvent: TypeAlias = StatusUpdateEvent | TestEvent | IgnoredEvent
"""What ``verify`` returns."""


def event_from(body: dict[str, Any], digest: str) -> WebhookEvent:
    """The event an authenticated envelope holds, or ``MalformedWebhook`` naming what is wrong."""
    kind = body.get("type")
    if type(kind) is not str:
        raise MalformedWebhook("type", _missing_or_kind(kind, "a string"))
    if kind == STATUS_UPDATE:
        return _status_update(body, digest)
    if kind == TEST:
        return TestEvent(MappingProxyType(_payload(body)), _event_time(body), digest)
    return IgnoredEvent(
        kind, IgnoreReason.UNKNOWN_TYPE, kind, MappingProxyType(body),
        parse_time(body.get("timestamp")), digest,
    )  # fmt: skip


def shown(value: str) -> str:
    """``value`` quoted and cut short, for a message."""
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "...")


def _status_update(body: dict[str, Any], digest: str) -> WebhookEvent:
    payload = _payload(body)
    task_id = _id(payload, "task_id")
    session_id = _id(payload, "session_id")
    word = payload.get("status")
    if type(word) is not str:
        raise MalformedWebhook("payload.status", _missing_or_kind(word, "a string"))
    metadata = payload.get("metadata")
    if metadata is None:
        metadata = {}
    elif type(metadata) is not dict:
        raise MalformedWebhook("payload.metadata", f"must be an object, not {json_kind(metadata)}")
    at = _event_time(body)
    status = _FROM_REMOTE.get(word)
    if status is None:
        return IgnoredEvent(
            STATUS_UPDATE, IgnoreReason.UNKNOWN_STATUS, word, MappingProxyType(body), at, digest
        )
    return StatusUpdateEvent(task_id, session_id, status, MappingProxyType(metadata), at, digest)


def _payload(body: dict[str, Any]) -> dict[str, Any]:
    payload = body.get("payload")
    if type(payload) is not dict:
        raise MalformedWebhook("payload", _missing_or_kind(payload, "an object"))
    return payload


def _id(payload: dict[str, Any], key: str) -> str:
    try:
        return check_id(payload.get(key), key)
    except InvalidTaskData as e:
        problem = "is missing" if key not in payload else e.problem
        raise MalformedWebhook(f"payload.{key}", problem) from None


def _event_time(body: dict[str, Any]) -> datetime:
    raw = body.get("timestamp")
    if type(raw) is str:  # the usual form, ISO-8601 in UTC, on a fast path
        try:
            iso = datetime.fromisoformat(raw)
        except ValueError:
            pass
        else:
            if iso.tzinfo is UTC:
                return iso
    at = parse_time(raw)
    if at is None:
        problem = "is missing" if raw is None else "is neither ISO-8601 nor Unix seconds"
        raise MalformedWebhook("timestamp", problem)
    return at


def _missing_or_kind(value: object, wanted: str) -> str:
    return "is missing" if value is None else f"must be {wanted}, not {json_kind(value)}"
