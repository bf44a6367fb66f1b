"""Receiving: a delivery's body and headers in, a typed event or a ``WebhookError`` out."""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, TypeAlias

from tasklife.errors import InvalidArgument, positive_int, seconds
from tasklife.webhooks._errors import InvalidSignature, WebhookTooOld
from tasklife.webhooks._events import WebhookEvent, event_from
from tasklife.webhooks._scheme import (
    DEFAULT_TOLERANCE,
    MAX_BODY_BYTES,
    MAX_DEPTH,
    MAX_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    aware,
    canonical,
    digest,
    mac,
    read_body,
    secret_keys,
    signed_seconds,
)

__all__ = ["Headers", "check_tolerance", "verify"]

Headers: TypeAlias = (
    Mapping[str, str] | Mapping[bytes, bytes] | Iterable[tuple[str | bytes, str | bytes]]
)
"""Request headers: a mapping (a dict, Starlette's or httpx's ``Headers``) or (name, value)
pairs (an ASGI scope's ``headers``). Names are matched case-insensitively; bytes are read as
Latin-1, as ASGI does."""

_SIGNATURE_KEY: Final = SIGNATURE_HEADER.lower()
_TIMESTAMP_KEY: Final = TIMESTAMP_HEADER.lower()
_KEY_LENGTH: Final = len(_SIGNATURE_KEY)  # == len(_TIMESTAMP_KEY): one test filters both
_SIGNATURE_LENGTH: Final = 64
_MISSING: Final = object()


def verify(
    body: bytes | bytearray | memoryview | str,
    headers: Headers,
    secret: str | Sequence[str],
    *,
    tolerance: float | None = DEFAULT_TOLERANCE,
    now: datetime | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_depth: int = MAX_DEPTH,
) -> WebhookEvent:
    """The event in a delivery, once its signature and age are checked; else a ``WebhookError``.

    ``body`` is the raw request body; ``secret`` one secret or several (during a rotation any
    one may match). ``tolerance`` is in seconds either side of ``now`` (default: the current
    time); ``None`` skips the age check, to re-verify a stored delivery. Arguments that are
    not the delivery's (a bad ``secret``, ``tolerance``, ...) raise ``InvalidArgument``.
    """
    keys = secret_keys(secret)
    if max_body_bytes is not MAX_BODY_BYTES:  # the defaults need no check
        positive_int("max_body_bytes", max_body_bytes)
    if max_depth is not MAX_DEPTH:
        positive_int("max_depth", max_depth)
    if tolerance is not DEFAULT_TOLERANCE:
        check_tolerance(tolerance)
    if now is not None:
        aware("now", now)
    stamp, signature = _signature_headers(headers)
    signed = signed_seconds(stamp)
    parsed = read_body(body, max_body_bytes, max_depth)
    text = canonical(parsed)
    for key in keys:
        if hmac.compare_digest(mac(key, stamp, text), signature):
            break
    else:
        raise InvalidSignature("the signature matches none of the secrets")
    if tolerance is not None:
        current = time.time() if now is None else now.timestamp()
        if abs(current - signed) > tolerance:
            raise WebhookTooOld(
                datetime.fromtimestamp(signed, UTC),
                datetime.fromtimestamp(current, UTC) if now is None else now,
                tolerance,
            )
    return event_from(parsed, digest(text))


def check_tolerance(tolerance: object) -> None:
    """``InvalidArgument`` unless ``tolerance`` is None (no age check) or a number of seconds
    >= 0: what ``verify`` accepts, for a receiver to check once, when it is made."""
    if tolerance is not None:
        seconds("tolerance", tolerance, zero=True)


def _signature_headers(headers: object) -> tuple[str, str]:
    """The timestamp and signature header values, each present exactly once and readable."""
    if type(headers) is dict or isinstance(headers, Mapping):
        pairs: Iterable[Any] = headers.items()
    elif isinstance(headers, Iterable) and not isinstance(headers, str | bytes | bytearray):
        pairs = headers
    else:
        raise InvalidArgument("headers", "must be a mapping or an iterable of (name, value) pairs")
    stamp: object = _MISSING
    signature: object = _MISSING
    try:
        for name, value in pairs:
            if len(name) != _KEY_LENGTH:  # where almost every other header stops
                continue
            key = name.lower() if type(name) is str else _name(name)
            if key == _TIMESTAMP_KEY:
                if stamp is not _MISSING:
                    raise InvalidSignature(f"more than one {TIMESTAMP_HEADER} header")
                stamp = value
            elif key == _SIGNATURE_KEY:
                if signature is not _MISSING:
                    raise InvalidSignature(f"more than one {SIGNATURE_HEADER} header")
                signature = value
    except (TypeError, ValueError):
        problem = "must be (name, value) pairs whose names are str or bytes"
        raise InvalidArgument("headers", problem) from None
    if not (type(stamp) is str and len(stamp) <= MAX_HEADER and stamp.isascii()):
        stamp = _header(stamp, TIMESTAMP_HEADER)  # the usual case passed the test above
    if not (type(signature) is str and signature.isascii()):
        signature = _header(signature, SIGNATURE_HEADER)
    if len(signature) != _SIGNATURE_LENGTH:  # other hex than lower-case just matches no secret
        raise InvalidSignature(f"{SIGNATURE_HEADER} is not {_SIGNATURE_LENGTH} hex digits")
    return stamp, signature


def _name(name: object) -> str:
    if isinstance(name, bytes):
        return name.decode("latin-1").lower()
    if isinstance(name, str):
        return name.lower()
    raise TypeError


def _header(value: object, name: str) -> str:
    """The value of header ``name``: ASCII of at most 64 characters."""
    if value is _MISSING:
        raise InvalidSignature(f"no {name} header")
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    elif not isinstance(value, str):
        raise InvalidArgument("headers", "header values must be str or bytes")
    if len(value) > MAX_HEADER:
        raise InvalidSignature(f"{name} is longer than {MAX_HEADER} characters")
    if not value.isascii():
        raise InvalidSignature(f"{name} holds characters outside ASCII")
    return value
