"""Sending: envelopes in the Browser Use vocabulary, their signature headers, their digest."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final, Literal

from tasklife.errors import InvalidArgument
from tasklife.lifecycle import TaskStatus
from tasklife.task import check_id
from tasklife.webhooks import _scheme as scheme
from tasklife.webhooks._errors import InvalidSignature, MalformedWebhook
from tasklife.webhooks._events import REMOTE_WORDS, STATUS_UPDATE, TEST, shown

__all__ = [
    "SESSION_NAMESPACE",
    "body_digest",
    "session_id_for",
    "sign",
    "status_update_envelope",
    "to_remote_status",
    "webhook_test_envelope",
]

SESSION_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "tasklife:webhooks:session_id")
"""The UUID5 namespace of ``session_id_for``: fixed, so a task's session id never changes."""


def to_remote_status(
    status: TaskStatus | str, *, failed_as: Literal["stopped", "failed"] = "stopped"
) -> str:
    """The webhook word for a lifecycle status: created -> initializing, running -> started.

    v1 webhooks have no ``failed``, and the official SDK's verifier refuses a status it does
    not know, so a failed task is sent as ``stopped`` (as the Browser Use service does) unless
    ``failed_as`` is ``"failed"``.
    """
    if failed_as not in ("stopped", "failed"):
        raise InvalidArgument("failed_as", "must be 'stopped' or 'failed'")
    try:
        member = TaskStatus(status)
    except ValueError:
        raise InvalidArgument("status", f"{shown(str(status))} is not a task status") from None
    return failed_as if member is TaskStatus.FAILED else REMOTE_WORDS[member]


def session_id_for(task_id: str) -> str:
    """The ``session_id`` sent with a task's events: UUID5 of the task id in SESSION_NAMESPACE.

    tasklife has no browser sessions; a derived id is the same for every event of a task, on
    every replica and across restarts, with nothing to store.
    """
    return str(uuid.uuid5(SESSION_NAMESPACE, check_id(task_id, "task_id")))


def status_update_envelope(
    task_id: str,
    status: TaskStatus | str,
    *,
    at: datetime,
    metadata: Mapping[str, Any] | None = None,
    session_id: str | None = None,
    failed_as: Literal["stopped", "failed"] = "stopped",
) -> dict[str, Any]:
    """The JSON body of an ``agent.task.status_update``: task ``task_id`` reached ``status``.

    ``at`` is the event time (aware; sent as ISO-8601 UTC); ``metadata`` the task's key-value
    pairs; ``session_id`` defaults to ``session_id_for(task_id)``.
    """
    if metadata is not None and not isinstance(metadata, Mapping):
        raise InvalidArgument("metadata", "must be a mapping")
    return {
        "type": STATUS_UPDATE,
        "timestamp": _iso(at),
        "payload": {
            "session_id": session_id_for(task_id)
            if session_id is None
            else check_id(session_id, "session_id"),
            "task_id": check_id(task_id, "task_id"),
            "status": to_remote_status(status, failed_as=failed_as),
            "metadata": dict(metadata or {}),
        },
    }


def webhook_test_envelope(*, at: datetime) -> dict[str, Any]:
    """The JSON body of the ``test`` event, sent when a webhook is set up."""
    return {"type": TEST, "timestamp": _iso(at), "payload": {"test": "ok"}}


def sign(
    body: Mapping[str, Any] | bytes | str,
    secret: str,
    *,
    timestamp: datetime | int | str,
) -> dict[str, str]:
    """The two headers that sign ``body`` (an envelope, or its JSON text) with ``secret``.

    ``timestamp`` is an aware datetime or an int, sent as Unix seconds, or a string sent
    verbatim (Unix seconds or ISO-8601, so that the receiver can check the age). Sign afresh
    for each attempt. The body may be posted as JSON in any spacing and key order: the
    signature covers its canonical form.
    """
    key = scheme.secret_key(secret)
    stamp = _stamp(timestamp)
    signature = scheme.mac(key, stamp, _canonical_of(body))
    return {scheme.TIMESTAMP_HEADER: stamp, scheme.SIGNATURE_HEADER: signature}


def body_digest(body: Mapping[str, Any] | bytes | str) -> str:
    """The ``digest`` ``verify`` gives the event in ``body``: SHA-256 hex of its canonical JSON."""
    return scheme.digest(_canonical_of(body))


def _iso(at: datetime) -> str:
    return scheme.aware("at", at).astimezone(UTC).isoformat()


def _stamp(timestamp: object) -> str:
    """The timestamp header for ``timestamp``, checked as ``verify`` will read it."""
    if isinstance(timestamp, datetime):
        stamp = str(math.floor(scheme.aware("timestamp", timestamp).timestamp()))
    elif isinstance(timestamp, int) and not isinstance(timestamp, bool):
        stamp = str(timestamp)
    elif isinstance(timestamp, str) and len(timestamp) <= scheme.MAX_HEADER and timestamp.isascii():
        stamp = timestamp
    else:
        stamp = ""
    try:
        scheme.signed_seconds(stamp)
    except InvalidSignature:
        problem = "must be an aware datetime, Unix seconds, or an ISO-8601 string"
        raise InvalidArgument("timestamp", problem) from None
    return stamp


def _canonical_of(body: object) -> bytes:
    """The canonical JSON ``verify`` computes for ``body`` once it is posted as JSON."""
    if isinstance(body, Mapping):
        try:  # through JSON text: tuples, int keys, str subclasses become what is received
            text: bytes | str = json.dumps(body, allow_nan=False)
        except (TypeError, ValueError, RecursionError) as e:
            problem = f"is not JSON-serializable ({type(e).__name__})"
            raise InvalidArgument("body", problem) from None
    elif isinstance(body, bytes | str):
        text = body
    else:
        raise InvalidArgument("body", "must be a mapping, bytes or str")
    try:  # the receiver's own reading and bounds: what is signed here can be verified there
        return scheme.canonical(scheme.read_body(text, scheme.MAX_BODY_BYTES, scheme.MAX_DEPTH))
    except MalformedWebhook as e:
        raise InvalidArgument("body", e.problem) from None
