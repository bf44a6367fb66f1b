"""tasklife.webhooks: verifying deliveries into typed events, and signing them."""

from __future__ import annotations

import ast
import hashlib
import hmac
import inspect
import json
import pickle
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from http import HTTPStatus
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import Headers as StarletteHeaders
from webhooks_support import AT, SECRET, delivery, finite_json, status_updates

import tasklife.webhooks as wh
from tasklife import InvalidArgument, InvalidTaskData, TaskLifeError, TaskStatus
from tasklife.webhooks import (
    IgnoredEvent,
    IgnoreReason,
    InvalidSignature,
    MalformedWebhook,
    StatusUpdateEvent,
    TestEvent,
    WebhookError,
    WebhookTooOld,
    _receive,
    body_digest,
    session_id_for,
    sign,
    status_update_envelope,
    to_remote_status,
    verify,
    webhook_test_envelope,
)

NOW = AT + timedelta(seconds=5)
ENVELOPE = status_update_envelope(
    "5b73fb3f-8e4a-4c8b-a1f0-7d2c9e6b4a13", TaskStatus.FINISHED, at=AT,
    metadata={"campaign": "q4-automation", "owner": "Zoë"},
)  # fmt: skip


def signed(envelope: dict[str, Any], **headers: str) -> tuple[bytes, dict[str, str]]:
    body, signature = delivery(envelope)
    return body, {**signature, **headers}


def by_hand(body: bytes, secret: str, stamp: str) -> str:
    """The scheme written out from the reference document, independently of tasklife."""
    dump = json.dumps(json.loads(body), separators=(",", ":"), sort_keys=True)
    return hmac.new(secret.encode(), f"{stamp}.{dump}".encode(), hashlib.sha256).hexdigest()


class TestVerify:
    @pytest.mark.parametrize(
        ("word", "status"),
        [
            ("initializing", TaskStatus.CREATED),
            ("started", TaskStatus.RUNNING),
            ("paused", TaskStatus.PAUSED),
            ("stopped", TaskStatus.STOPPED),
            ("finished", TaskStatus.FINISHED),
            ("failed", TaskStatus.FAILED),
        ],
        ids=str,
    )
    def test_statuses_map_to_the_lifecycle(self, word: str, status: TaskStatus) -> None:
        """Each webhook status word becomes its lifecycle status; the word is kept."""
        envelope = {**ENVELOPE, "payload": {**ENVELOPE["payload"], "status": word}}
        event = verify(*signed(envelope), SECRET, now=NOW)
        assert isinstance(event, StatusUpdateEvent)
        assert (event.status, event.remote_status) == (status, word)

    def test_event_carries_the_payload_and_event_time(self) -> None:
        """A status update holds the ids, metadata, the envelope's time in UTC and the digest."""
        event = verify(*signed(ENVELOPE), SECRET, now=NOW)
        assert isinstance(event, StatusUpdateEvent)
        payload = ENVELOPE["payload"]
        assert event.task_id == payload["task_id"]
        assert event.session_id == session_id_for(payload["task_id"])
        assert dict(event.metadata) == {"campaign": "q4-automation", "owner": "Zoë"}
        assert event.timestamp == AT
        assert event.timestamp.tzinfo is UTC
        assert event.digest == body_digest(ENVELOPE)
        assert event.type == "agent.task.status_update"

    def test_signature_is_the_documented_scheme(self) -> None:
        """sign() gives exactly the HMAC the reference document describes."""
        body, headers = signed(ENVELOPE)
        stamp = headers["X-Browser-Use-Timestamp"]
        assert stamp == str(int(AT.timestamp()))
        assert headers["X-Browser-Use-Signature"] == by_hand(body, SECRET, stamp)

    def test_test_event(self) -> None:
        """The test event sent when a webhook is created is a TestEvent."""
        event = verify(*signed(webhook_test_envelope(at=AT)), SECRET, now=NOW)
        assert isinstance(event, TestEvent)
        assert (dict(event.payload), event.timestamp, event.type) == ({"test": "ok"}, AT, "test")

    def test_doc_example_test_event(self) -> None:
        """The docs' test event, 'Z' suffix and all, verifies with an ISO timestamp header."""
        body = b'{"type": "test", "timestamp": "2024-03-21T12:00:00Z", "payload": {"test": "ok"}}'
        stamp = "2024-03-21T12:00:00Z"
        headers = {"X-Browser-Use-Timestamp": stamp,
                   "X-Browser-Use-Signature": by_hand(body, SECRET, stamp)}  # fmt: skip
        event = verify(body, headers, SECRET, now=datetime(2024, 3, 21, 12, 1, tzinfo=UTC))
        assert isinstance(event, TestEvent)
        assert event.timestamp == datetime(2024, 3, 21, 12, tzinfo=UTC)

    @pytest.mark.parametrize(
        "envelope",
        [
            {"type": "agent.session.created", "timestamp": "2025-05-25T09:22:22+00:00",
             "payload": {"x": 1}},
            {"type": "agent.session.created"},
        ],
        ids=["with-time", "bare"],
    )  # fmt: skip
    def test_unknown_type_is_ignored(self, envelope: dict[str, Any]) -> None:
        """A new event type is an IgnoredEvent saying so, never an error."""
        event = verify(*signed(envelope), SECRET, now=NOW)
        assert isinstance(event, IgnoredEvent)
        assert (event.reason, event.value, event.type) == (
            IgnoreReason.UNKNOWN_TYPE, "agent.session.created", "agent.session.created"
        )  # fmt: skip
        assert dict(event.body) == envelope
        assert "unknown type 'agent.session.created'" in event.detail

    def test_unknown_status_is_ignored(self) -> None:
        """A status update with a status tasklife does not know is ignored, never an error."""
        envelope = {**ENVELOPE, "payload": {**ENVELOPE["payload"], "status": "timed_out"}}
        event = verify(*signed(envelope), SECRET, now=NOW)
        assert isinstance(event, IgnoredEvent)
        assert (event.reason, event.value, event.timestamp) == (
            IgnoreReason.UNKNOWN_STATUS, "timed_out", AT
        )  # fmt: skip

    def test_missing_metadata_is_empty(self) -> None:
        """A payload without metadata (or with null) has empty metadata."""
        payload = {k: v for k, v in ENVELOPE["payload"].items() if k != "metadata"}
        for envelope in ({**ENVELOPE, "payload": payload},
                         {**ENVELOPE, "payload": {**payload, "metadata": None}}):  # fmt: skip
            event = verify(*signed(envelope), SECRET, now=NOW)
            assert isinstance(event, StatusUpdateEvent)
            assert dict(event.metadata) == {}

    def test_event_is_read_only(self) -> None:
        """Neither the event nor its metadata can be changed."""
        event = verify(*signed(ENVELOPE), SECRET, now=NOW)
        assert isinstance(event, StatusUpdateEvent)
        with pytest.raises(AttributeError):
            event.task_id = "other"  # type: ignore[misc]
        with pytest.raises(TypeError):
            event.metadata["campaign"] = "other"  # type: ignore[index]


class TestHeaders:
    @pytest.mark.parametrize(
        "shape",
        ["dict-canonical", "dict-lower", "dict-upper", "pairs-bytes", "starlette", "httpx"],
    )
    def test_names_match_case_insensitively(self, shape: str) -> None:
        """Headers are found whatever their case, in a dict, pairs or a framework's Headers."""
        body, signature = signed(ENVELOPE)
        other = {"Content-Type": "application/json", "X-Browser-Use-Timestamp-Extra": "1"}
        items = [*other.items(), *signature.items()]
        headers: Any = {
            "dict-canonical": dict(items),
            "dict-lower": {k.lower(): v for k, v in items},
            "dict-upper": {k.upper(): v for k, v in items},
            "pairs-bytes": [(k.lower().encode(), v.encode()) for k, v in items],
            "starlette": StarletteHeaders(raw=[(k.lower().encode(), v.encode()) for k, v in items]),
            "httpx": httpx.Headers(items),
        }[shape]
        assert isinstance(verify(body, headers, SECRET, now=NOW), StatusUpdateEvent)

    @pytest.mark.parametrize(
        ("drop", "reason"),
        [
            ("X-Browser-Use-Signature", "no X-Browser-Use-Signature header"),
            ("X-Browser-Use-Timestamp", "no X-Browser-Use-Timestamp header"),
        ],
        ids=["signature", "timestamp"],
    )
    def test_missing_header_is_refused(self, drop: str, reason: str) -> None:
        """A delivery without one of the two headers is an InvalidSignature naming it."""
        body, headers = signed(ENVELOPE)
        del headers[drop]
        with pytest.raises(InvalidSignature) as info:
            verify(body, headers, SECRET, now=NOW)
        assert info.value.reason == reason

    def test_repeated_header_is_refused(self) -> None:
        """Two signature headers (any case) are ambiguous: refused."""
        body, headers = signed(ENVELOPE)
        pairs = [*headers.items(), ("x-browser-use-signature", headers["X-Browser-Use-Signature"])]
        with pytest.raises(InvalidSignature, match="more than one X-Browser-Use-Signature"):
            verify(body, pairs, SECRET, now=NOW)

    @pytest.mark.parametrize(
        ("header", "value"),
        [
            ("X-Browser-Use-Signature", "ab" * 40),
            ("X-Browser-Use-Signature", "é" * 64),
            ("X-Browser-Use-Timestamp", "1" * 65),
            ("X-Browser-Use-Timestamp", "yesterday"),
            ("X-Browser-Use-Timestamp", "-1748164942"),
            ("X-Browser-Use-Timestamp", "99999999999999"),
        ],
        ids=["sig-long", "sig-non-ascii", "ts-long", "ts-word", "ts-negative", "ts-year-5M"],
    )
    def test_unreadable_header_is_refused(self, header: str, value: str) -> None:
        """A header of the wrong length, alphabet or meaning is an InvalidSignature."""
        body, headers = signed(ENVELOPE)
        with pytest.raises(InvalidSignature):
            verify(body, {**headers, header: value}, SECRET, now=NOW)


class TestSignature:
    def test_wrong_secret_is_refused(self) -> None:
        """A delivery signed with another secret is an InvalidSignature."""
        body, headers = delivery(ENVELOPE, "another-secret")
        with pytest.raises(InvalidSignature, match="matches none of the secrets"):
            verify(body, headers, SECRET, now=NOW)

    def test_any_of_several_secrets(self) -> None:
        """During a rotation, a delivery signed with either secret is accepted."""
        for secret in ("old-secret", "new-secret"):
            body, headers = delivery(ENVELOPE, secret)
            event = verify(body, headers, ["old-secret", "new-secret"], now=NOW)
            assert isinstance(event, StatusUpdateEvent)

    @pytest.mark.parametrize(
        "tamper",
        ["status", "metadata", "event-time", "timestamp-header", "upper-hex"],
    )
    def test_tampering_is_refused(self, tamper: str) -> None:
        """Any change to the body, the timestamp header or the signature's spelling is refused."""
        body, headers = signed(ENVELOPE)
        data = json.loads(body)
        if tamper == "status":
            data["payload"]["status"] = "stopped"
        elif tamper == "metadata":
            data["payload"]["metadata"]["owner"] = "Zoe"
        elif tamper == "event-time":
            data["timestamp"] = "2025-05-25T09:22:23.269116+00:00"
        elif tamper == "timestamp-header":
            headers["X-Browser-Use-Timestamp"] = str(int(headers["X-Browser-Use-Timestamp"]) + 1)
        else:
            headers["X-Browser-Use-Signature"] = headers["X-Browser-Use-Signature"].upper()
        with pytest.raises(InvalidSignature):
            verify(json.dumps(data).encode(), headers, SECRET, now=NOW)

    def test_only_the_whole_body_is_signed(self) -> None:
        """A signature over the payload alone (SDKs before 2.0.6) is refused."""
        body, headers = signed(ENVELOPE)
        stamp = headers["X-Browser-Use-Timestamp"]
        payload_only = by_hand(json.dumps(ENVELOPE["payload"]).encode(), SECRET, stamp)
        with pytest.raises(InvalidSignature):
            verify(body, {**headers, "X-Browser-Use-Signature": payload_only}, SECRET, now=NOW)

    def test_re_encoded_body_still_verifies(self) -> None:
        """Spacing, key order and escaping do not matter: the canonical form is signed."""
        body, headers = signed(ENVELOPE)
        reordered = json.dumps(dict(reversed(json.loads(body).items())), indent=2).encode()
        assert reordered != body
        event = verify(reordered, headers, SECRET, now=NOW)
        assert isinstance(event, StatusUpdateEvent)
        assert event.digest == verify(body, headers, SECRET, now=NOW).digest


class TestConstantTime:
    def test_signatures_are_compared_in_constant_time(self) -> None:
        """The received signature meets only hmac.compare_digest: no ==, !=, in on it."""
        tree = ast.parse(inspect.getsource(_receive))
        names = {"signature", "signatures"}
        compared = [
            node for node in ast.walk(tree) if isinstance(node, ast.Compare)
            and any(isinstance(n, ast.Name) and n.id in names
                    for n in (node.left, *node.comparators))
            and not all(isinstance(op, ast.Is | ast.IsNot) for op in node.ops)
        ]  # fmt: skip
        calls = [
            node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and ast.unparse(node.func) == "hmac.compare_digest"
            and any(isinstance(a, ast.Name) and a.id == "signature" for a in node.args)
        ]  # fmt: skip
        assert compared == []
        assert len(calls) == 1


class TestAge:
    @pytest.mark.parametrize(
        ("offset", "ok"),
        [(0, True), (300, True), (-300, True), (301, False), (-301, False), (86_400, False)],
        ids=["now", "300s-old", "300s-ahead", "301s-old", "301s-ahead", "a-day-old"],
    )
    def test_tolerance_either_side(self, offset: int, ok: bool) -> None:
        """A signature is valid within 300 s either side of now, and refused beyond."""
        body, headers = signed(ENVELOPE)
        now = datetime.fromtimestamp(int(headers["X-Browser-Use-Timestamp"]) + offset, UTC)
        if ok:
            assert isinstance(verify(body, headers, SECRET, now=now), StatusUpdateEvent)
        else:
            with pytest.raises(WebhookTooOld) as info:
                verify(body, headers, SECRET, now=now)
            assert (info.value.now, info.value.tolerance) == (now, 300.0)
            assert info.value.signed_at == now - timedelta(seconds=offset)

    def test_iso_timestamp_header(self) -> None:
        """An ISO-8601 timestamp header (the SDK's examples) is signed verbatim and aged."""
        stamp = "2025-05-25T11:22:22+02:00"
        body, headers = delivery(ENVELOPE, timestamp=stamp)
        assert headers["X-Browser-Use-Timestamp"] == stamp
        assert isinstance(verify(body, headers, SECRET, now=NOW), StatusUpdateEvent)
        with pytest.raises(WebhookTooOld):
            verify(body, headers, SECRET, now=NOW + timedelta(hours=1))

    def test_no_tolerance_skips_the_age_check(self) -> None:
        """tolerance=None verifies a stored delivery of any age."""
        body, headers = signed(ENVELOPE)
        event = verify(body, headers, SECRET, tolerance=None, now=NOW + timedelta(days=900))
        assert isinstance(event, StatusUpdateEvent)

    def test_default_now_is_the_clock(self) -> None:
        """Without now=, a delivery signed years ago is too old and one signed now is not."""
        with pytest.raises(WebhookTooOld):
            verify(*signed(ENVELOPE), SECRET)
        body, headers = delivery(ENVELOPE, timestamp=datetime.now(UTC))
        assert isinstance(verify(body, headers, SECRET), StatusUpdateEvent)

    def test_signature_is_checked_before_age(self) -> None:
        """An old delivery with a bad signature is an InvalidSignature, not WebhookTooOld."""
        body, headers = delivery(ENVELOPE, "another-secret")
        with pytest.raises(InvalidSignature):
            verify(body, headers, SECRET, now=NOW + timedelta(days=1))


class TestMalformed:
    @pytest.mark.parametrize(
        ("body", "problem"),
        [
            (b"", "is not JSON"),
            (b"{", "is not JSON"),
            (b"{} {}", "is not JSON"),
            (b"[]", "must be a JSON object, not an array"),
            (b'"x"', "must be a JSON object, not a string"),
            (b"\xff{}", "is not UTF-8"),
            (b'{"a": NaN}', "NaN, Infinity"),
            (b'{"a": -Infinity}', "NaN, Infinity"),
            (b'{"a": 1e400}', "NaN, Infinity"),
            (b'{"a": ' + b"1" * 5000 + b"}", "is not JSON"),
            (b'{"a":' * 40 + b"1" + b"}" * 40, "nested more than 32 levels"),
            (b"[" * 100_000, "nested more than 32 levels"),
        ],
        ids=["empty", "truncated", "two-objects", "array", "string", "not-utf8", "nan", "infinity",
             "huge-float", "huge-int", "deep", "very-deep"],
    )  # fmt: skip
    def test_unreadable_body(self, body: bytes, problem: str) -> None:
        """A body that is not a bounded UTF-8 JSON object is MalformedWebhook('body')."""
        with pytest.raises(MalformedWebhook) as info:
            verify(body, delivery(ENVELOPE)[1], SECRET, now=NOW)
        assert info.value.field == "body"
        assert problem in info.value.problem

    def test_body_size_bound(self) -> None:
        """A body over max_body_bytes is refused before it is parsed."""
        body, headers = signed(ENVELOPE)
        assert isinstance(verify(body, headers, SECRET, now=NOW, max_body_bytes=len(body)),
                          StatusUpdateEvent)  # fmt: skip
        with pytest.raises(MalformedWebhook, match=f"is {len(body)} bytes"):
            verify(body, headers, SECRET, now=NOW, max_body_bytes=len(body) - 1)

    def test_depth_bound(self) -> None:
        """max_depth bounds nesting: an envelope with flat metadata needs 3 levels."""
        body, headers = signed(ENVELOPE)
        assert isinstance(verify(body, headers, SECRET, now=NOW, max_depth=3), StatusUpdateEvent)
        with pytest.raises(MalformedWebhook, match="nested more than 2 levels"):
            verify(body, headers, SECRET, now=NOW, max_depth=2)

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"type": None}, "type"),
            ({"type": 7}, "type"),
            ({"payload": None}, "payload"),
            ({"payload": []}, "payload"),
            ({"timestamp": None}, "timestamp"),
            ({"timestamp": "soon"}, "timestamp"),
            ({"payload.task_id": None}, "payload.task_id"),
            ({"payload.task_id": "has space"}, "payload.task_id"),
            ({"payload.session_id": 12}, "payload.session_id"),
            ({"payload.status": None}, "payload.status"),
            ({"payload.status": ["started"]}, "payload.status"),
            ({"payload.metadata": "campaign"}, "payload.metadata"),
        ],
        ids=str,
    )
    def test_authentic_but_malformed_envelope(self, change: dict[str, Any], field: str) -> None:
        """A signed envelope missing what its type needs is MalformedWebhook naming the field."""
        envelope = json.loads(json.dumps(ENVELOPE))
        for path, value in change.items():
            *parents, key = path.split(".")
            target = envelope
            for parent in parents:
                target = target[parent]
            if value is None:
                del target[key]
            else:
                target[key] = value
        with pytest.raises(MalformedWebhook) as info:
            verify(*signed(envelope), SECRET, now=NOW)
        assert info.value.field == field

    def test_test_event_needs_a_payload_object(self) -> None:
        """A test event whose payload is not an object is malformed."""
        envelope = {"type": "test", "timestamp": "2024-03-21T12:00:00Z", "payload": "ok"}
        with pytest.raises(MalformedWebhook, match="payload"):
            verify(*signed(envelope), SECRET, now=NOW)


class TestArguments:
    @pytest.mark.parametrize(
        ("kwargs", "argument"),
        [
            ({"secret": ""}, "secret"),
            ({"secret": []}, "secret"),
            ({"secret": ["ok", ""]}, "secret"),
            ({"secret": b"bytes"}, "secret"),
            ({"secret": "\ud800"}, "secret"),
            ({"tolerance": -1}, "tolerance"),
            ({"tolerance": float("nan")}, "tolerance"),
            ({"tolerance": True}, "tolerance"),
            ({"now": datetime(2025, 5, 25)}, "now"),
            ({"max_body_bytes": 0}, "max_body_bytes"),
            ({"max_depth": 1.5}, "max_depth"),
            ({"max_depth": HTTPStatus.OK}, "max_depth"),  # an int subclass: not an int
            ({"headers": 42}, "headers"),
            ({"headers": "X-Browser-Use-Signature"}, "headers"),
            ({"headers": [("x-browser-use-signature",)]}, "headers"),
            ({"headers": {1: "x"}}, "headers"),
            (
                {"headers": {"x-browser-use-timestamp": "1", "x-browser-use-signature": 1}},
                "headers",
            ),
            ({"body": 42}, "body"),
        ],
        ids=lambda v: repr(v)[:40],
    )
    def test_bad_arguments(self, kwargs: dict[str, Any], argument: str) -> None:
        """Arguments that are not the delivery's raise InvalidArgument naming them."""
        body, headers = signed(ENVELOPE)
        call: dict[str, Any] = {"body": body, "headers": headers, "secret": SECRET, "now": NOW}
        with pytest.raises(InvalidArgument) as info:
            verify(**{**call, **kwargs})
        assert info.value.argument == argument


class TestErrors:
    @pytest.mark.parametrize(
        "error",
        [
            InvalidSignature("no X-Browser-Use-Signature header"),
            WebhookTooOld(AT, NOW, 300.0),
            MalformedWebhook("payload.task_id", "is missing"),
        ],
        ids=lambda e: type(e).__name__,
    )
    def test_errors_pickle_and_share_the_root(self, error: WebhookError) -> None:
        """Each error is a WebhookError and a TaskLifeError and survives pickling."""
        assert isinstance(error, WebhookError)
        assert isinstance(error, TaskLifeError)
        copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
        assert (type(copy), str(copy)) == (type(error), str(error))

    def test_malformed_is_a_value_error(self) -> None:
        """MalformedWebhook is also a ValueError (bad input)."""
        assert issubclass(MalformedWebhook, ValueError)

    def test_too_old_says_which_way(self) -> None:
        """The message says how old, or how far in the future, the signature is."""
        assert "3600 s old" in str(WebhookTooOld(AT, AT + timedelta(hours=1), 300))
        assert "60 s in the future" in str(WebhookTooOld(AT + timedelta(minutes=1), AT, 30))


class TestSign:
    def test_timestamp_forms(self) -> None:
        """A datetime or an int is sent as Unix seconds; a string verbatim."""
        at = datetime(2025, 5, 25, 11, 22, 22, 900000, tzinfo=timezone(timedelta(hours=2)))
        assert sign(ENVELOPE, SECRET, timestamp=at)["X-Browser-Use-Timestamp"] == "1748164942"
        assert sign(ENVELOPE, SECRET, timestamp=17)["X-Browser-Use-Timestamp"] == "17"
        iso = "2025-05-25T09:22:22Z"
        assert sign(ENVELOPE, SECRET, timestamp=iso)["X-Browser-Use-Timestamp"] == iso

    @pytest.mark.parametrize(
        "timestamp",
        [datetime(2025, 1, 1), -5, True, "yesterday", "1" * 70, 10**13, "٣"],
        ids=["naive", "negative", "bool", "word", "long", "year-300k", "arabic-digit"],
    )
    def test_unverifiable_timestamp_is_refused(self, timestamp: Any) -> None:
        """sign() refuses a timestamp verify() could not read."""
        with pytest.raises(InvalidArgument) as info:
            sign(ENVELOPE, SECRET, timestamp=timestamp)
        assert info.value.argument == "timestamp"

    @pytest.mark.parametrize(
        "body",
        [{"a": float("nan")}, {"a": object()}, b"[1]", "not json", 42],
        ids=["nan", "object", "array", "text", "int"],
    )
    def test_unsignable_body_is_refused(self, body: Any) -> None:
        """sign() refuses a body that is not a JSON object verify() could read."""
        with pytest.raises(InvalidArgument) as info:
            sign(body, SECRET, timestamp=AT)
        assert info.value.argument == "body"

    def test_bytes_and_mapping_sign_alike(self) -> None:
        """An envelope, its JSON text and its JSON bytes give the same signature and digest."""
        text = json.dumps(ENVELOPE, ensure_ascii=False)
        signatures = {sign(b, SECRET, timestamp=AT)["X-Browser-Use-Signature"]
                      for b in (ENVELOPE, text, text.encode())}  # fmt: skip
        assert len(signatures) == 1
        assert len({body_digest(ENVELOPE), body_digest(text), body_digest(text.encode())}) == 1

    def test_digest_is_of_the_event_not_the_delivery(self) -> None:
        """A re-signed retry has the same digest; another event time gives another digest."""
        first = verify(*delivery(ENVELOPE, timestamp=AT), SECRET, now=NOW)
        retry = verify(*delivery(ENVELOPE, timestamp=NOW), SECRET, now=NOW)
        later = {**ENVELOPE, "timestamp": NOW.isoformat()}
        other = verify(*delivery(later, timestamp=NOW), SECRET, now=NOW)
        assert first.digest == retry.digest != other.digest
        canonical = json.dumps(ENVELOPE, separators=(",", ":"), sort_keys=True).encode()
        assert first.digest == hashlib.sha256(canonical).hexdigest()


class TestEnvelopes:
    @pytest.mark.parametrize(
        ("status", "word", "if_asked"),
        [
            (TaskStatus.CREATED, "initializing", "initializing"),
            (TaskStatus.RUNNING, "started", "started"),
            (TaskStatus.PAUSED, "paused", "paused"),
            (TaskStatus.STOPPED, "stopped", "stopped"),
            (TaskStatus.FINISHED, "finished", "finished"),
            (TaskStatus.FAILED, "stopped", "failed"),
        ],
        ids=str,
    )
    def test_status_vocabulary(self, status: TaskStatus, word: str, if_asked: str) -> None:
        """Statuses go out in the Browser Use words; failed as stopped unless asked."""
        assert to_remote_status(status) == word
        assert to_remote_status(status.value, failed_as="failed") == if_asked

    def test_status_update_shape(self) -> None:
        """The envelope has exactly the documented keys, the time in ISO-8601 UTC."""
        at = datetime(2025, 5, 25, 11, 22, 22, 269116, tzinfo=timezone(timedelta(hours=2)))
        envelope = status_update_envelope("task_1", "running", at=at, metadata={"k": "v"})
        assert envelope == {
            "type": "agent.task.status_update",
            "timestamp": "2025-05-25T09:22:22.269116+00:00",
            "payload": {"session_id": session_id_for("task_1"), "task_id": "task_1",
                        "status": "started", "metadata": {"k": "v"}},
        }  # fmt: skip

    def test_test_envelope_shape(self) -> None:
        """The test event is the documented one."""
        assert webhook_test_envelope(at=datetime(2024, 3, 21, 12, tzinfo=UTC)) == {
            "type": "test", "timestamp": "2024-03-21T12:00:00+00:00", "payload": {"test": "ok"}
        }  # fmt: skip

    def test_session_id_is_stable(self) -> None:
        """A task's session id is a fixed UUID5 of its id: the same in every release."""
        assert session_id_for("task_1") == "2af719f4-cd2a-58e3-b8d6-8cab11c554f4"
        assert session_id_for("task_2") != session_id_for("task_1")

    @pytest.mark.parametrize(
        ("call", "error"),
        [
            (lambda: status_update_envelope("t", "sleeping", at=AT), InvalidArgument),
            (lambda: status_update_envelope("t", "running", at=datetime(2025, 1, 1)),
             InvalidArgument),
            (lambda: status_update_envelope("has space", "running", at=AT), InvalidTaskData),
            (lambda: status_update_envelope("t", "running", at=AT, metadata=[1]),  # type: ignore[arg-type]
             InvalidArgument),
            (lambda: to_remote_status("failed", failed_as="error"),  # type: ignore[arg-type]
             InvalidArgument),
            (lambda: webhook_test_envelope(at="2024"),  # type: ignore[arg-type]
             InvalidArgument),
        ],
        ids=["status", "naive-at", "task-id", "metadata", "failed-as", "test-at"],
    )  # fmt: skip
    def test_bad_envelope_arguments(self, call: Any, error: type[Exception]) -> None:
        """Bad arguments to the builders raise a typed tasklife error."""
        with pytest.raises(error):
            call()


class TestProperties:
    @given(envelope=status_updates(), stamp=st.integers(0, 10**10))
    def test_sign_then_verify_round_trips(self, envelope: dict[str, Any], stamp: int) -> None:
        """Any status update, non-ASCII metadata included, verifies to what was sent."""
        body, headers = delivery(envelope, timestamp=stamp)
        event = verify(body, headers, SECRET, tolerance=None)
        assert isinstance(event, StatusUpdateEvent)
        payload = envelope["payload"]
        assert (event.task_id, event.session_id, event.remote_status) == (
            payload["task_id"], payload["session_id"], payload["status"]
        )  # fmt: skip
        assert dict(event.metadata) == payload["metadata"]
        assert event.timestamp == datetime.fromisoformat(envelope["timestamp"])
        assert event.digest == body_digest(body)

    @given(
        body=st.binary(max_size=300)
        | finite_json.map(lambda v: json.dumps(v).encode())
        | status_updates().map(lambda e: json.dumps(e).encode()),
        headers=st.dictionaries(
            st.sampled_from(["X-Browser-Use-Signature", "x-browser-use-timestamp",
                             "X-BROWSER-USE-SIGNATURE", "Content-Type", "x" * 23]),
            st.text(max_size=80) | st.sampled_from(["1748164942", "ab" * 32, "2025-05-25"]),
        ),
        pairs=st.booleans(),
    )  # fmt: skip
    def test_any_bytes_and_headers_end_typed(
        self, body: bytes, headers: dict[str, str], pairs: bool
    ) -> None:
        """Arbitrary bytes and headers give an event or a WebhookError, never anything else."""
        shaped: Any = [(k.encode(), v.encode()) for k, v in headers.items()] if pairs else headers
        shown = ""
        try:
            shown = repr(verify(body, shaped, SECRET, now=NOW))
        except WebhookError as e:
            shown = f"{e}{e!r}"
        assert SECRET not in shown

    @given(value=st.dictionaries(st.text(max_size=10), finite_json, max_size=6))
    def test_any_signed_object_ends_typed(self, value: dict[str, Any]) -> None:
        """A correctly signed JSON object of any shape is an event or MalformedWebhook."""
        body, headers = delivery(value)
        try:
            event = verify(body, headers, SECRET, now=NOW)
        except MalformedWebhook as e:
            shown, digest = f"{e}{e!r}", body_digest(value)
        else:
            shown, digest = repr(event), event.digest
        assert SECRET not in shown
        assert digest == body_digest(value)

    @given(text=st.text(max_size=200) | finite_json.map(json.dumps))
    def test_reading_agrees_with_json_loads(self, text: str) -> None:
        """The body reader accepts exactly what json.loads reads as a finite JSON object."""
        try:
            expected: Any = json.loads(text)
            json.dumps(expected, allow_nan=False)
        except (ValueError, RecursionError):
            expected = None
        try:
            body_digest(text)
        except InvalidArgument:
            assert not isinstance(expected, dict)
        else:
            assert isinstance(expected, dict)

    @given(value=st.dictionaries(st.text(max_size=10), finite_json, max_size=6) | status_updates())
    def test_canonical_form_is_json_dumps(self, value: dict[str, Any]) -> None:
        """The digest is SHA-256 of exactly json.dumps(body, separators, sort_keys)."""
        dump = json.dumps(value, separators=(",", ":"), sort_keys=True)
        assert body_digest(value) == hashlib.sha256(dump.encode()).hexdigest()


class TestSurface:
    def test_all_is_the_documented_set(self) -> None:
        """tasklife.webhooks exports exactly the documented names."""
        assert set(wh.__all__) == {
            "DEFAULT_TOLERANCE", "MAX_BODY_BYTES", "MAX_DEPTH", "REMOTE_STATUSES", "REMOTE_WORDS",
            "SESSION_NAMESPACE", "SIGNATURE_HEADER", "STATUS_UPDATE", "TEST", "TIMESTAMP_HEADER",
            "Headers", "IgnoreReason", "IgnoredEvent", "InvalidSignature", "MalformedWebhook",
            "StatusUpdateEvent", "TestEvent", "WebhookError", "WebhookEvent", "WebhookTooOld",
            "body_digest", "session_id_for", "sign", "status_update_envelope", "to_remote_status",
            "verify", "webhook_test_envelope",
        }  # fmt: skip
        assert all(hasattr(wh, name) for name in wh.__all__)

    def test_import_stays_light(self) -> None:
        """import tasklife.webhooks loads no HTTP, server, SQL or pydantic code."""
        heavy = ["httpx", "fastapi", "starlette", "sqlite3", "pydantic", "browser_use_sdk"]
        code = f"import sys, tasklife.webhooks; print([m for m in {heavy!r} if m in sys.modules])"
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        assert out.strip() == "[]"
