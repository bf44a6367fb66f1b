"""The signature scheme both sides share: header names, bounds, canonical JSON, times, the MAC.

The signature is the lower-case hex HMAC-SHA256, keyed with the secret's UTF-8 bytes, of
``f"{timestamp}.{canonical}"``: the timestamp header verbatim, and the parsed body written as
``json.dumps(body, separators=(",", ":"), sort_keys=True)``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from tasklife.errors import InvalidArgument
from tasklife.webhooks._errors import InvalidSignature, MalformedWebhook

__all__ = [
    "DEFAULT_TOLERANCE",
    "MAX_BODY_BYTES",
    "MAX_DEPTH",
    "MAX_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "aware",
    "canonical",
    "digest",
    "mac",
    "parse_time",
    "read_body",
    "secret_key",
    "secret_keys",
    "signed_seconds",
]

SIGNATURE_HEADER: Final = "X-Browser-Use-Signature"
TIMESTAMP_HEADER: Final = "X-Browser-Use-Timestamp"
DEFAULT_TOLERANCE: Final = 300.0
"""Seconds a signature stays valid either side of ``now`` (the Browser Use docs' 300 s)."""
MAX_BODY_BYTES: Final = 1024 * 1024
"""The default bound on a body's size in UTF-8 bytes: the local server's own bound on a request
body, so an event about any task it accepted fits."""
MAX_DEPTH: Final = 32
"""The default bound on JSON nesting; an envelope uses 3 levels (body, payload, metadata)."""
MAX_HEADER: Final = 64
"""The bound on the timestamp header's length (the signature is 64 hex digits)."""

_UNIX_SECONDS: Final = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?")
_JSON_SPACE: Final = " \t\n\r"
_raw_decode: Final = json.JSONDecoder().raw_decode


def secret_key(secret: object) -> bytes:
    """The HMAC key: the secret's UTF-8 bytes. Errors name no part of it, not even its length."""
    if not isinstance(secret, str) or not secret:
        raise InvalidArgument("secret", "every secret must be a non-empty string")
    try:
        return secret.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgument("secret", "a secret is not encodable as UTF-8") from None


def secret_keys(secret: object) -> tuple[bytes, ...]:
    """The keys of one secret or of several (during a rotation any one may sign)."""
    if type(secret) is str and secret.isascii() and secret:  # the usual case, on a fast path
        return (secret.encode("ascii"),)
    if isinstance(secret, str):
        return (secret_key(secret),)
    if not isinstance(secret, Sequence) or isinstance(secret, bytes | bytearray):
        raise InvalidArgument("secret", "must be a string or a sequence of strings")
    if not secret:
        raise InvalidArgument("secret", "must name at least one secret")
    return tuple(secret_key(item) for item in secret)


def mac(key: bytes, stamp: str, canonical: bytes) -> str:
    """The signature of ``canonical`` at ``stamp`` (an ASCII timestamp) with ``key``."""
    return hmac.digest(key, stamp.encode("ascii") + b"." + canonical, "sha256").hex()


def digest(canonical: bytes) -> str:
    """An event's identity across retried deliveries: SHA-256 hex of its canonical JSON."""
    return hashlib.sha256(canonical).hexdigest()


def aware(name: str, value: object) -> datetime:
    """``value`` if it is a timezone-aware datetime, else ``InvalidArgument(name)``."""
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidArgument(name, "must be a timezone-aware datetime")
    return value


def parse_time(value: object) -> datetime | None:
    """Unix seconds (a number or its decimal text) or ISO-8601 (naive means UTC), as aware UTC.

    None when ``value`` is neither, or names no time a ``datetime`` can hold.
    """
    try:
        if type(value) is str:
            if _UNIX_SECONDS.fullmatch(value):
                return datetime.fromtimestamp(float(value), UTC)
            if not value.isascii():
                return None
            at = datetime.fromisoformat(value)
            if at.tzinfo is UTC:
                return at
            return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def signed_seconds(stamp: str) -> float:
    """The timestamp header in Unix seconds, or ``InvalidSignature`` if it names no time."""
    if len(stamp) <= 11 and stamp.isdigit():  # whole seconds, up to the year 5138
        return int(stamp)
    at = parse_time(stamp)
    if at is None:
        raise InvalidSignature(f"{TIMESTAMP_HEADER} is neither Unix seconds nor ISO-8601")
    return at.timestamp()


def read_body(body: object, max_bytes: int, max_depth: int) -> dict[str, Any]:
    """The JSON object in ``body`` (bytes are UTF-8), within the bounds, or ``MalformedWebhook``."""
    text = _text(body, max_bytes)
    try:  # json.loads without its wrapper layers: raw_decode, then only whitespace may follow
        start = len(text) - len(text.lstrip(_JSON_SPACE)) if text[:1] in _JSON_SPACE else 0
        parsed, end = _raw_decode(text, start)
        if end != len(text) and text[end:].strip(_JSON_SPACE):
            raise json.JSONDecodeError("Extra data", text, end)
    except RecursionError:
        raise MalformedWebhook("body", f"is nested more than {max_depth} levels deep") from None
    except ValueError as e:  # json.JSONDecodeError, or an int too long to convert
        raise MalformedWebhook("body", f"is not JSON ({_reason(e)})") from None
    if type(parsed) is not dict:
        raise MalformedWebhook("body", f"must be a JSON object, not {json_kind(parsed)}")
    # A text with no more brackets than the limit cannot nest deeper: the walk is skipped.
    if text.count("{") + text.count("[") > max_depth and not _within_depth(parsed, max_depth):
        raise MalformedWebhook("body", f"is nested more than {max_depth} levels deep")
    return parsed


def canonical(parsed: object) -> bytes:
    """``json.dumps(parsed, separators=(",", ":"), sort_keys=True)`` as bytes (it is ASCII).

    ``NaN``, ``Infinity`` and numbers beyond a float's range (``1e400``) are not JSON: they
    raise ``MalformedWebhook``.
    """
    try:
        return _encode(parsed).encode("ascii")
    except ValueError:
        raise MalformedWebhook("body", "holds NaN, Infinity or a number too large") from None


def json_kind(value: object) -> str:
    """What a parsed JSON value is, in JSON's words."""
    return _KINDS.get(type(value), type(value).__name__)


_KINDS: Final = {
    dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number",
    bool: "a boolean", type(None): "null",
}  # fmt: skip


def _text(body: object, max_bytes: int) -> str:
    if type(body) is bytes and len(body) <= max_bytes:  # a request's body, on a fast path
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedWebhook("body", "is not UTF-8") from None
    if isinstance(body, str):
        text = body
        size = len(body) if len(body) * 4 <= max_bytes else len(body.encode("utf-8", "replace"))
    elif isinstance(body, bytes | bytearray | memoryview):
        size = body.nbytes if isinstance(body, memoryview) else len(body)
        if size <= max_bytes:
            return _text(bytes(body), max_bytes)
    else:
        raise InvalidArgument("body", "must be bytes or str")
    if size > max_bytes:
        raise MalformedWebhook("body", f"is {size} bytes, more than the limit of {max_bytes}")
    return text


def _reason(error: ValueError) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at character {error.pos}"
    return str(error).split(";")[0][:80]


def _within_depth(value: dict[str, Any], limit: int) -> bool:
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        for child in node.values() if type(node) is dict else node:
            if type(child) is dict or type(child) is list:
                if depth >= limit:
                    return False
                stack.append((child, depth + 1))
    return True


def _encoder() -> Callable[[object], str]:
    """The canonical writer: ``json.dumps`` builds a C encoder per call; this builds one, once.

    Where the C accelerator is missing, or writes anything else than ``json.JSONEncoder`` for a
    sample, the pure ``JSONEncoder.encode`` is used instead.
    """
    plain = json.JSONEncoder(separators=(",", ":"), sort_keys=True, allow_nan=False).encode
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has it
        return plain
    try:  # (markers, default, encoder, indent, key_sep, item_sep, sort_keys, skipkeys, allow_nan)
        fast = make(None, None, json.encoder.encode_basestring_ascii, None, ":", ",", True,
                    False, False)  # fmt: skip
        sample = {"b": [1, -0.5, None, True, "é\u2028\ud800\x00"], "a": {"z": 10**20, "": {}}}
        if "".join(fast(sample, 0)) != plain(sample):  # pragma: no cover
            return plain
    except Exception:  # pragma: no cover - a C encoder whose signature changed
        return plain
    return lambda parsed: "".join(fast(parsed, 0))


_encode: Final = _encoder()
