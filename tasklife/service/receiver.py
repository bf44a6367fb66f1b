"""Receiving webhooks: a delivery's bytes and headers applied to a store's task, as an outcome.

``WebhookReceiver`` (a ``TaskStore``) and ``AsyncWebhookReceiver`` (an ``AsyncTaskStore``) run
one flow, written once (``_receive``): verify the delivery (``tasklife.webhooks.verify``),
then apply a status update to the stored task through ``Task.observe`` inside the store's unit
of work (``transact``), with the event's digest as the observation's reference. A retried
delivery is signed again but has the same body, so the same digest: it is a duplicate, and
nothing is written. Every verified delivery ends in a ``Receipt`` whose ``outcome`` is one of
``ObservationOutcome``:

- ``applied``: records were written (``Receipt.records``);
- ``duplicate``: the task already holds this event or a later one of that status;
- ``stale``: the event would move the task back or sideways, and is not newer than the task's
  latest change by more than the skew allowance; nothing changed. Given ``refresh=`` (a
  transport, or anything with ``get_task``), the receiver reads the remote status instead of
  guessing and observes that (``Receipt.refreshed``);
- ``ignored``: the test event, an event of an unknown type or status, or an event for a task
  the store does not hold and the ``unknown_task`` hook did not attach (the default hook,
  ``ignore_unknown``, attaches none); ``Receipt.detail`` says which;
- ``conflict``: a terminal disagreement (stopped here, failed there); ``Receipt.conflict``
  carries both statuses and nothing changed. A backend converges on the remote's truth by
  rebuilding the task from the remote view and replacing it in the store::

      task = Task.from_remote(task_id, remote_status, at=when, steps=steps)
      with store.transaction() as tx:
          tx.replace(task, token=tx.load(task_id).token)

A delivery that is not authentic raises ``InvalidSignature`` or ``WebhookTooOld``, one that is
not an envelope ``MalformedWebhook``, and nothing is read or written. The HTTP face is
``tasklife.server.webhook_router``.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Awaitable, Callable, Generator, Sequence
from datetime import timedelta
from typing import Any, Final, Generic, Protocol, TypeAlias, TypeVar

import attrs

from tasklife import (
    DEFAULT_SKEW,
    Observation,
    ObservationOutcome,
    ObservationResult,
    ReconcileConflict,
    Task,
    TaskLifeError,
    TransitionRecord,
)
from tasklife.errors import InvalidArgument, interval, positive_int
from tasklife.store import (
    DEFAULT_ATTEMPTS,
    AsyncTaskStore,
    StoreConflict,
    TaskNotStored,
    TaskStore,
    async_transact,
    transact,
)
from tasklife.task import Clock, utc_now
from tasklife.v1 import TaskView
from tasklife.webhooks import (
    DEFAULT_TOLERANCE,
    MAX_BODY_BYTES,
    Headers,
    IgnoredEvent,
    StatusUpdateEvent,
    TestEvent,
    WebhookEvent,
    verify,
)
from tasklife.webhooks._receive import check_tolerance

__all__ = [
    "AsyncRemoteReader",
    "AsyncUnknownTask",
    "AsyncWebhookReceiver",
    "Receipt",
    "RemoteReader",
    "UnknownTask",
    "WebhookReceiver",
    "async_attach_from",
    "attach_from",
    "ignore_unknown",
]

T = TypeVar("T")
StoreT = TypeVar("StoreT")
HookT = TypeVar("HookT")
RemoteT = TypeVar("RemoteT")
_NO_SKEW: Final = timedelta(0)


class RemoteReader(Protocol):
    """What a refresh reads the remote through: any ``tasklife.transports.Transport``."""

    def get_task(self, task_id: str) -> TaskView:
        """The remote's view of the task."""


class AsyncRemoteReader(Protocol):
    """``RemoteReader`` for asyncio: any ``tasklife.transports.AsyncTransport``."""

    async def get_task(self, task_id: str) -> TaskView:
        """The remote's view of the task."""


UnknownTask: TypeAlias = Callable[[StatusUpdateEvent], Task | None]
"""Called with an event for a task the store does not hold: a task to store (attached from
the remote, say with ``attach_from``), or None to ignore the event."""
AsyncUnknownTask: TypeAlias = Callable[[StatusUpdateEvent], Task | Awaitable[Task | None] | None]
"""``UnknownTask`` for ``AsyncWebhookReceiver``: it may also be a coroutine function."""


def ignore_unknown(event: StatusUpdateEvent) -> None:
    """The default ``unknown_task`` hook: attach nothing, so the event is ignored."""


def attach_from(remote: RemoteReader, *, clock: Clock = utc_now) -> UnknownTask:
    """An ``unknown_task`` hook that attaches the task from ``remote``'s view of it."""

    def attach(event: StatusUpdateEvent) -> Task:
        return _from_view(event.task_id, remote.get_task(event.task_id), clock)

    return attach


def async_attach_from(remote: AsyncRemoteReader, *, clock: Clock = utc_now) -> AsyncUnknownTask:
    """``attach_from`` for ``AsyncWebhookReceiver``."""

    async def attach(event: StatusUpdateEvent) -> Task:
        return _from_view(event.task_id, await remote.get_task(event.task_id), clock)

    return attach


def _from_view(task_id: str, view: TaskView, clock: Clock) -> Task:
    return Task.from_remote(
        task_id, view.status, at=clock(), steps=view.steps, created_at=view.created_at,
        clock=clock,
    )  # fmt: skip


@attrs.frozen
class Receipt:
    """What the receiver did with one verified delivery.

    ``outcome`` (see the module), ``event`` (what ``verify`` returned), ``detail`` (a sentence
    for a log line), the ``records`` written, the ``conflict`` when the outcome is one,
    ``refreshed`` when the remote status was read, ``attached`` when the ``unknown_task`` hook
    supplied the task.
    """

    outcome: ObservationOutcome
    event: WebhookEvent
    detail: str
    records: tuple[TransitionRecord, ...] = ()
    conflict: ReconcileConflict | None = None
    refreshed: bool = False
    attached: bool = False

    @property
    def task_id(self) -> str | None:
        """The task the event is about (None for the test event and unknown types)."""
        return self.event.task_id if isinstance(self.event, StatusUpdateEvent) else None


# The flow: every decision, no I/O. ------------------------------------------------------


@attrs.frozen
class _Observe:
    """Step: load the task, ``observe`` it, save what changed (the store's unit of work)."""

    task_id: str
    observation: Observation
    skew: timedelta


@attrs.frozen
class _Add:
    """Step: store a new task (``StoreConflict`` when another writer stored it first)."""

    task: Task


@attrs.frozen
class _Unknown:
    """Step: ask the ``unknown_task`` hook for the task of ``event``."""

    event: StatusUpdateEvent


@attrs.frozen
class _Read:
    """Step: read the remote's view of a task."""

    task_id: str


_Step: TypeAlias = _Observe | _Add | _Unknown | _Read
_Flow: TypeAlias = Generator[_Step, Any, T]


@attrs.frozen
class _Settings:
    secret: str | tuple[str, ...] = attrs.field(repr=False)
    tolerance: float | None
    skew: timedelta
    clock: Clock | None
    refresh: bool
    max_body_bytes: int


def _receive(settings: _Settings, body: Any, headers: Headers) -> _Flow[Receipt]:
    """Verify a delivery and apply its event; the receipt."""
    clock = settings.clock
    event = verify(
        body, headers, settings.secret, tolerance=settings.tolerance,
        now=None if clock is None else clock(), max_body_bytes=settings.max_body_bytes,
    )  # fmt: skip
    if isinstance(event, TestEvent):
        return Receipt(ObservationOutcome.IGNORED, event, "ignored: the test event")
    if isinstance(event, IgnoredEvent):
        return Receipt(ObservationOutcome.IGNORED, event, event.detail)
    observation = Observation(event.status, event.timestamp, ref=event.digest)
    try:
        result: ObservationResult = yield _Observe(event.task_id, observation, settings.skew)
    except TaskNotStored:
        return (yield from _unknown(settings, event, observation))
    if result.outcome is ObservationOutcome.STALE and settings.refresh:
        return (yield from _refresh(event, clock or utc_now))
    return _receipt(event, result)


def _unknown(
    settings: _Settings, event: StatusUpdateEvent, observation: Observation
) -> _Flow[Receipt]:
    """An event for a task the store does not hold: the hook attaches it, or it is ignored."""
    task: object = yield _Unknown(event)
    if task is None:
        detail = f"ignored: task {event.task_id!r} is not stored here"
        return Receipt(ObservationOutcome.IGNORED, event, detail)
    if not isinstance(task, Task) or task.id != event.task_id:
        raise InvalidArgument(
            "unknown_task", f"must return None or the Task {event.task_id!r}, not {task!r}"
        )
    with contextlib.suppress(StoreConflict):  # another delivery attached it: observe that one
        yield _Add(task)
    result: ObservationResult = yield _Observe(event.task_id, observation, settings.skew)
    if result.outcome is ObservationOutcome.CONFLICT:
        return attrs.evolve(_receipt(event, result), attached=True)
    records = task.history if result.outcome is not ObservationOutcome.APPLIED else (
        task.history + result.records
    )  # fmt: skip
    detail = f"applied: task {event.task_id!r} attached as {task.status}"
    return Receipt(ObservationOutcome.APPLIED, event, detail, records, attached=True)


def _refresh(event: StatusUpdateEvent, clock: Clock) -> _Flow[Receipt]:
    """A stale event: observe the remote's status as read now, instead of guessing."""
    try:
        view: TaskView = yield _Read(event.task_id)
    except TaskLifeError as error:
        detail = f"stale; reading the remote failed ({type(error).__name__}), nothing changed"
        return Receipt(ObservationOutcome.STALE, event, detail, refreshed=True)
    # The remote's status at the time of the read is newer than any change committed before
    # it, on this machine's clock: no skew allowance.
    fresh = Observation(view.status, clock(), steps=view.steps)
    result: ObservationResult = yield _Observe(event.task_id, fresh, _NO_SKEW)
    if result.outcome is ObservationOutcome.DUPLICATE:  # the remote confirms the local view
        result = ObservationResult(ObservationOutcome.STALE)
    return attrs.evolve(_receipt(event, result), refreshed=True)


def _receipt(event: StatusUpdateEvent, result: ObservationResult) -> Receipt:
    outcome = result.outcome
    where = f"task {event.task_id!r}"
    if outcome is ObservationOutcome.APPLIED and result.records:
        moved = " -> ".join([result.records[0].source, *(r.dest for r in result.records)])
        detail = f"applied: {where} {moved}"
    elif outcome is ObservationOutcome.CONFLICT and result.conflict is not None:
        conflict = result.conflict
        detail = f"conflict: {where} is {conflict.local} here, {conflict.remote} on the remote"
    else:
        detail = f"{outcome}: {where} {event.remote_status} at {event.timestamp.isoformat()}"
    return Receipt(outcome, event, detail, result.records, result.conflict)


# The drivers. ---------------------------------------------------------------------------


def _advance(flow: _Flow[T], reply: Any, failure: Exception | None) -> tuple[bool, Any]:
    """Resume ``flow``: (False, its next step) or (True, its result)."""
    try:
        return False, flow.send(reply) if failure is None else flow.throw(failure)
    except StopIteration as stop:
        return True, stop.value


def _check_secret(secret: object) -> str | tuple[str, ...]:
    if isinstance(secret, str):
        secrets: Sequence[object] = (secret,)
    elif isinstance(secret, Sequence) and not isinstance(secret, bytes | bytearray):
        secrets = secret
    else:
        raise InvalidArgument("secret", "must be a string or a sequence of strings")
    if not secrets or not all(isinstance(s, str) and s for s in secrets):
        raise InvalidArgument("secret", "every secret must be a non-empty string")
    return secret if isinstance(secret, str) else tuple(secrets)  # type: ignore[arg-type]


class _Receiver(Generic[StoreT, HookT, RemoteT]):
    """What both receivers hold and check alike (the options: see ``WebhookReceiver``)."""

    def __init__(
        self,
        store: StoreT,
        secret: str | Sequence[str],
        *,
        tolerance: float | None = DEFAULT_TOLERANCE,
        skew: timedelta = DEFAULT_SKEW,
        unknown_task: HookT | None = None,
        refresh: RemoteT | None = None,
        clock: Clock | None = None,
        attempts: int = DEFAULT_ATTEMPTS,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        interval("skew", skew)
        positive_int("attempts", attempts)
        positive_int("max_body_bytes", max_body_bytes)
        check_tolerance(tolerance)  # when made, not first at a delivery
        if refresh is not None and not callable(getattr(refresh, "get_task", None)):
            raise InvalidArgument("refresh", "must have a get_task(task_id) method (a transport)")
        if unknown_task is not None and not callable(unknown_task):
            raise InvalidArgument("unknown_task", "must be a function of the event, or None")
        self.store = store
        self._settings = _Settings(
            _check_secret(secret), tolerance, skew, clock, refresh is not None, max_body_bytes
        )
        self._attempts = attempts
        self._unknown_task = unknown_task
        self._remote = refresh

    @property
    def max_body_bytes(self) -> int:
        """The largest body the receiver reads (a router stops reading beyond it)."""
        return self._settings.max_body_bytes

    def __repr__(self) -> str:  # never the secret
        return f"{type(self).__name__}(store={self.store!r})"


class WebhookReceiver(_Receiver[TaskStore, UnknownTask, RemoteReader]):
    """Apply verified webhook deliveries to the tasks of a ``TaskStore``; safe from threads.

    ``secret`` is one secret or several (rotation); ``tolerance`` and ``clock`` go to
    ``verify`` (``clock`` also dates a refresh); ``skew`` to ``Task.observe``;
    ``unknown_task`` is the hook for events about tasks the store does not hold (None, the
    default, ignores them like ``ignore_unknown``); ``refresh``, a transport (anything with
    ``get_task``), makes the receiver read the remote status when an event is stale;
    ``attempts`` bounds the unit of work's retries; ``max_body_bytes`` the body read.
    """

    def receive(self, body: bytes | str, headers: Headers) -> Receipt:
        """Verify the delivery and apply its event (see the module); the receipt."""
        flow = _receive(self._settings, body, headers)
        done, step = _advance(flow, None, None)
        while not done:
            reply, failure = None, None
            try:
                reply = self._perform(step)
            except Exception as error:
                failure = error
            done, step = _advance(flow, reply, failure)
        return step  # type: ignore[no-any-return]

    def _perform(self, step: _Step) -> Any:
        if isinstance(step, _Observe):
            observation, skew = step.observation, step.skew
            return transact(
                self.store, step.task_id, lambda task: task.observe(observation, skew=skew),
                attempts=self._attempts,
            ).result  # fmt: skip
        if isinstance(step, _Add):
            with self.store.transaction() as tx:
                return tx.add(step.task)
        if isinstance(step, _Unknown):
            return None if self._unknown_task is None else self._unknown_task(step.event)
        assert self._remote is not None  # noqa: S101 - the flow reads only when refresh is set
        return self._remote.get_task(step.task_id)


class AsyncWebhookReceiver(_Receiver[AsyncTaskStore, AsyncUnknownTask, AsyncRemoteReader]):
    """``WebhookReceiver`` for an ``AsyncTaskStore``: the same flow, awaited; ``unknown_task``
    may be a coroutine function, ``refresh`` a ``tasklife.transports.AsyncTransport``."""

    async def receive(self, body: bytes | str, headers: Headers) -> Receipt:
        """See ``WebhookReceiver.receive``."""
        flow = _receive(self._settings, body, headers)
        done, step = _advance(flow, None, None)
        while not done:
            reply, failure = None, None
            try:
                reply = await self._perform(step)
            except Exception as error:
                failure = error
            done, step = _advance(flow, reply, failure)
        return step  # type: ignore[no-any-return]

    async def _perform(self, step: _Step) -> Any:
        if isinstance(step, _Observe):
            observation, skew = step.observation, step.skew
            outcome = await async_transact(
                self.store, step.task_id, lambda task: task.observe(observation, skew=skew),
                attempts=self._attempts,
            )  # fmt: skip
            return outcome.result
        if isinstance(step, _Add):
            async with self.store.transaction() as tx:
                return await tx.add(step.task)
        if isinstance(step, _Unknown):
            if self._unknown_task is None:
                return None
            found = self._unknown_task(step.event)
            return await found if inspect.isawaitable(found) else found
        assert self._remote is not None  # noqa: S101 - the flow reads only when refresh is set
        return await self._remote.get_task(step.task_id)
