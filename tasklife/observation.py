"""Observations: a status seen on the remote at a time, and what applying one to a task did.

A backend that mirrors remote tasks hears about them out of order, more than once, or not at
all (webhooks are retried and reordered; polls race with them). ``Task.observe`` applies an
``Observation`` only when it tells the task something new and consistent, and answers with an
``ObservationResult`` whose ``outcome`` says which (see ``Task.observe`` for the rules).
``classify`` is the decision, kept apart from the task so it is pure and tested on its own.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

import attrs

from tasklife.errors import InvalidTaskData, ReconcileConflict, interval, shown
from tasklife.lifecycle import LIFECYCLE, Action, TaskStatus

if TYPE_CHECKING:
    from tasklife.task import TransitionRecord

__all__ = [
    "DEFAULT_SKEW",
    "MAX_REF_LENGTH",
    "Observation",
    "ObservationOutcome",
    "ObservationResult",
    "Verdict",
    "classify",
]

DEFAULT_SKEW: Final = timedelta(seconds=1)
"""How much newer than a task's latest change a back or sideways observation must be."""

MAX_REF_LENGTH: Final = 256
"""The longest ``ref`` an observation (and a record) may carry."""

MAX_STEPS: Final = 10**9
"""The largest step count tasklife accepts from outside (keeps every count JSON-safe)."""


class ObservationOutcome(enum.StrEnum):
    """What applying an observation did; only ``APPLIED`` changed the task."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    STALE = "stale"
    IGNORED = "ignored"
    CONFLICT = "conflict"


def _status(value: TaskStatus | str) -> TaskStatus:
    if isinstance(value, TaskStatus):
        return value
    try:
        return TaskStatus(value)
    except ValueError:
        names = ", ".join(TaskStatus)
        problem = f"{shown(value)} is not a TaskStatus (one of: {names})"
        raise InvalidTaskData("status", problem) from None


def _aware(value: object) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        what = repr(value) if isinstance(value, datetime) else shown(value)
        raise InvalidTaskData("at", f"must be a timezone-aware datetime, not {what}")
    try:
        return value if value.tzinfo is UTC else value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC equivalent
        raise InvalidTaskData("at", f"{value!r} is outside the range of UTC datetimes") from None


def check_ref(value: object, field: str = "ref") -> str | None:
    """``value`` if it is None or a valid reference (1 to 256 printable characters)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidTaskData(field, f"must be a string or None, not {type(value).__name__}")
    if not 0 < len(value) <= MAX_REF_LENGTH or not value.isprintable():
        raise InvalidTaskData(
            field, f"must be 1 to {MAX_REF_LENGTH} printable characters, not {len(value)}"
        )
    return value


def check_steps(value: object, field: str = "steps") -> int:
    """``value`` if it is a step count: an ``int`` from 0 to ``MAX_STEPS``."""
    if type(value) is not int or not 0 <= value <= MAX_STEPS:
        if type(value) is not int:
            shown = type(value).__name__
        elif -MAX_STEPS <= value <= 10 * MAX_STEPS:
            shown = str(value)
        else:
            shown = f"an integer of {value.bit_length()} bits"
        raise InvalidTaskData(field, f"must be an integer from 0 to {MAX_STEPS}, not {shown}")
    return value


def _steps(value: int | None) -> int | None:
    return None if value is None else check_steps(value)


@attrs.frozen
class Observation:
    """The remote's ``status`` at the remote's time ``at``.

    ``ref`` identifies the report (a webhook event's digest, a request id) so a redelivery is
    recognised; ``steps`` is the remote's step count when the report carries one. A status
    given as a string is converted; a naive ``at`` or a ``created`` status with steps is
    ``InvalidTaskData``.
    """

    status: TaskStatus = attrs.field(converter=_status)
    at: datetime = attrs.field(converter=_aware)
    ref: str | None = attrs.field(default=None, converter=check_ref)
    steps: int | None = attrs.field(default=None, converter=_steps)

    def __attrs_post_init__(self) -> None:
        if self.steps and self.status is LIFECYCLE.initial:
            raise InvalidTaskData("steps", f"a {self.status} task has taken no steps")


@attrs.frozen
class ObservationResult:
    """The ``outcome`` of one observation, the ``records`` it added, the ``conflict`` if any."""

    outcome: ObservationOutcome
    records: tuple[TransitionRecord, ...] = ()
    conflict: ReconcileConflict | None = None


@attrs.frozen
class Verdict:
    """``classify``'s answer: the outcome and, when applied, the path of actions to take."""

    outcome: ObservationOutcome
    path: tuple[Action, ...] = ()
    conflict: ReconcileConflict | None = None


_DUPLICATE: Final = Verdict(ObservationOutcome.DUPLICATE)
_STALE: Final = Verdict(ObservationOutcome.STALE)


def classify(
    observation: Observation,
    *,
    task_id: str,
    status: TaskStatus,
    steps: int,
    created_at: datetime,
    history: Sequence[TransitionRecord],
    skew: timedelta,
) -> Verdict:
    """Decide what ``observation`` means for a task in ``status`` with ``history``.

    The rules are ``Task.observe``'s. An applied verdict with an empty path means only the
    step count moves on.
    """
    interval("skew", skew)
    seen = observation.status
    at = observation.at
    ref = observation.ref
    reached = created_at if seen is LIFECYCLE.initial else None
    latest = created_at
    for record in history:
        if ref is not None and record.ref == ref:
            return _DUPLICATE
        if record.inferred:  # its time is when it was deduced, not when the remote moved
            continue
        when = record.at if record.remote_at is None else record.remote_at
        if record.dest is seen and (reached is None or when > reached):
            reached = when
        latest = max(latest, when)
    if seen is status:
        started = bool(history) and history[0].action is Action.START
        more = observation.steps is not None and observation.steps > steps and started
        return Verdict(ObservationOutcome.APPLIED) if more else _DUPLICATE
    if reached is not None and reached >= at:
        return _DUPLICATE
    ran = bool(observation.steps) or steps > 0
    path = LIFECYCLE.path(status, seen, ran=ran)
    forward = path is not None and (status is LIFECYCLE.initial or seen.is_terminal)
    if forward:
        assert path is not None  # noqa: S101 - forward implies a path
        return Verdict(ObservationOutcome.APPLIED, path)
    if not seen.is_terminal and at <= latest + skew:
        return _STALE
    if path is None:
        conflict = ReconcileConflict(task_id, status, seen)
        return Verdict(ObservationOutcome.CONFLICT, conflict=conflict)
    return Verdict(ObservationOutcome.APPLIED, path)
