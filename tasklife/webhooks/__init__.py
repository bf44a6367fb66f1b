"""Browser Use webhooks on the wire: verify a delivery into a typed event, sign one to send.

Pure: no I/O, the standard library and the domain only, the clock read only when ``now`` is not
given. A receiver passes the raw body and the request's headers to ``verify``; a sender builds
an envelope with ``status_update_envelope`` or ``webhook_test_envelope``, posts it as JSON and
signs each attempt with ``sign``.

The scheme is Browser Use's, as the official SDK (``browser_use_sdk.lib.webhooks``, 2.0.6 and
later) implements it: ``X-Browser-Use-Signature`` is the lower-case hex HMAC-SHA256, keyed with
the secret's UTF-8 bytes, of ``f"{timestamp}.{canonical}"``, where ``timestamp`` is the
``X-Browser-Use-Timestamp`` header verbatim and ``canonical`` is ``json.dumps(parsed_body,
separators=(",", ":"), sort_keys=True)`` (ASCII: non-ASCII characters escaped). ``verify``
compares the signature in constant time, then requires the header's time (Unix seconds or
ISO-8601) to lie within ``tolerance`` seconds of ``now``.

Every event carries ``digest``, the SHA-256 of the canonical JSON above. A retried delivery is
signed again with a new timestamp but carries the same body, so it has the same digest; the
envelope's own ``timestamp`` (the event time) makes two distinct events' digests differ. The
digest is of the canonical form, not of the raw bytes, because that form is what the signature
authenticates: bodies that differ only in spacing or key order (a sender or a proxy encoding
the body again for a retry) are one signed event, with one digest.

Bounds: a body of at most ``MAX_BODY_BYTES`` (1 MiB), UTF-8 JSON nested at most ``MAX_DEPTH``
(32) levels, with no ``NaN``, ``Infinity`` or number beyond a float's range; a signature header
of 64 characters and a timestamp header of at most 64, both ASCII.

Errors (each a ``TaskLifeError``; no message holds a secret or a signature)::

    WebhookError
    ├── InvalidSignature                  a header missing, repeated or unreadable, or the
    │                                     signature matches none of the secrets (answer 401)
    ├── WebhookTooOld                     authentic, but signed outside the tolerance (401)
    └── MalformedWebhook (ValueError)     the body is not a webhook envelope (400)

An unknown event type or status is no error: ``verify`` returns an ``IgnoredEvent`` saying why,
so that a receiver can answer 2xx and the sender stops retrying.
"""

from types import FunctionType

from tasklife.webhooks._errors import (
    InvalidSignature,
    MalformedWebhook,
    WebhookError,
    WebhookTooOld,
)
from tasklife.webhooks._events import (
    REMOTE_STATUSES,
    REMOTE_WORDS,
    STATUS_UPDATE,
    TEST,
    IgnoredEvent,
    IgnoreReason,
    StatusUpdateEvent,
    TestEvent,
    WebhookEvent,
)
from tasklife.webhooks._receive import Headers, verify
from tasklife.webhooks._scheme import (
    DEFAULT_TOLERANCE,
    MAX_BODY_BYTES,
    MAX_DEPTH,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
)
from tasklife.webhooks._send import (
    SESSION_NAMESPACE,
    body_digest,
    session_id_for,
    sign,
    status_update_envelope,
    to_remote_status,
    webhook_test_envelope,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "MAX_BODY_BYTES",
    "MAX_DEPTH",
    "REMOTE_STATUSES",
    "REMOTE_WORDS",
    "SESSION_NAMESPACE",
    "SIGNATURE_HEADER",
    "STATUS_UPDATE",
    "TEST",
    "TIMESTAMP_HEADER",
    "Headers",
    "IgnoreReason",
    "IgnoredEvent",
    "InvalidSignature",
    "MalformedWebhook",
    "StatusUpdateEvent",
    "TestEvent",
    "WebhookError",
    "WebhookEvent",
    "WebhookTooOld",
    "body_digest",
    "session_id_for",
    "sign",
    "status_update_envelope",
    "to_remote_status",
    "verify",
    "webhook_test_envelope",
]

for _name in __all__:  # show the public home in reprs and tracebacks (as httpx does)
    _value = globals()[_name]
    if isinstance(_value, type | FunctionType):
        _value.__module__ = __name__
del _name, _value
