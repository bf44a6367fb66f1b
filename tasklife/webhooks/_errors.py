"""Why a webhook delivery was refused: the ``WebhookError`` branch of tasklife's error tree."""

from __future__ import annotations

from datetime import datetime

from tasklife.errors import TaskLifeError

__all__ = ["InvalidSignature", "MalformedWebhook", "WebhookError", "WebhookTooOld"]


class WebhookError(TaskLifeError):
    """A webhook delivery was refused: unauthenticated, too old, or not a webhook envelope."""


class InvalidSignature(WebhookError):
    """The delivery does not prove it came from a holder of the secret; ``reason`` says why.

    A header missing, repeated or unreadable, or a signature that matches none of the secrets.
    A receiver answers 401.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"webhook refused: {reason}")


class WebhookTooOld(WebhookError):
    """Authentic, but signed at ``signed_at``, more than ``tolerance`` seconds from ``now``.

    A replayed delivery, or a clock skew beyond the tolerance (``signed_at`` in the future).
    A receiver answers 401; the sender's next attempt is signed afresh.
    """

    def __init__(self, signed_at: datetime, now: datetime, tolerance: float) -> None:
        self.signed_at = signed_at
        self.now = now
        self.tolerance = tolerance
        age = (now - signed_at).total_seconds()
        when = f"{age:.0f} s old" if age >= 0 else f"{-age:.0f} s in the future"
        super().__init__(
            f"webhook refused: signed at {signed_at.isoformat()}, {when} at "
            f"{now.isoformat()}, beyond the tolerance of {tolerance:g} s"
        )


class MalformedWebhook(WebhookError, ValueError):
    """The body is not a webhook envelope; ``field`` is the path to the bad part.

    Too large, not UTF-8 JSON, nested too deep, or (once authenticated) missing what its event
    type requires. A receiver answers 400.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"malformed webhook: {field}: {problem}")
