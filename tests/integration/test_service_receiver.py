"""The webhook receiver on real stores: a SQLite file, PostgreSQL, and PostgreSQL async.

Each test runs on the three adapters of ``tests/store_kit.py``; the first two through
``WebhookReceiver``, the async one through ``AsyncWebhookReceiver`` (one flow, both faces).
Deliveries are signed as a sender signs them (``tasklife.webhooks.sign``); the store is read
back through its own transactions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from browser_use_sdk.lib.webhooks import create_webhook_signature
from store_kit import KINDS, AsyncPostgresKit, Kit, new_spec
from webhooks_support import SECRET

from tasklife import (
    InvalidArgument,
    ObservationOutcome,
    Task,
    TaskStatus,
)
from tasklife.lifecycle import Action
from tasklife.service import (
    AsyncWebhookReceiver,
    Receipt,
    WebhookReceiver,
    async_attach_from,
    attach_from,
)
from tasklife.store import Loaded
from tasklife.transports import AsyncInMemoryTransport, InMemoryTransport
from tasklife.webhooks import (
    InvalidSignature,
    MalformedWebhook,
    StatusUpdateEvent,
    WebhookTooOld,
    sign,
    status_update_envelope,
    webhook_test_envelope,
)

APPLIED, DUPLICATE, STALE, IGNORED, CONFLICT = (
    ObservationOutcome.APPLIED,
    ObservationOutcome.DUPLICATE,
    ObservationOutcome.STALE,
    ObservationOutcome.IGNORED,
    ObservationOutcome.CONFLICT,
)


def now() -> datetime:
    return datetime.now(UTC)


class Receiving:
    """A store of one adapter, a receiver on it (sync or async face), and signed deliveries."""

    def __init__(self, kit: Kit, **options: Any) -> None:
        self.kit = kit
        self.remote = InMemoryTransport()
        self.asynchronous = kit.spec.kind == "postgres-async"
        self.options = options
        self.receiver = self.make(**options)

    def make(self, **options: Any) -> Any:
        if options.pop("refresh", False):
            options["refresh"] = (
                AsyncInMemoryTransport(self.remote) if self.asynchronous else self.remote
            )
        if options.pop("attach", False):
            options["unknown_task"] = (
                async_attach_from(AsyncInMemoryTransport(self.remote))
                if self.asynchronous
                else attach_from(self.remote)
            )
        if self.asynchronous:
            return AsyncWebhookReceiver(self.kit.store, SECRET, **options)
        return WebhookReceiver(self.kit.store, SECRET, **options)

    def post(self, body: bytes | str, headers: Any) -> Receipt:
        result = self.receiver.receive(body, headers)
        if isinstance(self.kit, AsyncPostgresKit):
            result = self.kit.call(result)
        assert isinstance(result, Receipt)
        return result

    def deliver(
        self, envelope: dict[str, Any], *, signed_at: datetime | None = None, secret: str = SECRET
    ) -> Receipt:
        body = json.dumps(envelope, ensure_ascii=False).encode()
        return self.post(body, sign(envelope, secret, timestamp=signed_at or now()))

    def event(self, task_id: str, status: str, at: datetime | None = None) -> dict[str, Any]:
        return status_update_envelope(task_id, status, at=at or now(), failed_as="failed")

    def add(self, task: Task) -> None:
        self.kit.add(task)

    def stored(self, task_id: str) -> Loaded:
        with self.kit.transaction() as tx:
            loaded = tx.load(task_id)
        assert isinstance(loaded, Loaded)
        return loaded

    def act(self, task_id: str, action: Action) -> None:
        """A local action on the stored task, saved (as the backend's own code does)."""
        self.kit.transact(task_id, lambda task: task.apply(action))

    def running(self, task_id: str = "task_1") -> Task:
        """A task stored running since a minute ago."""
        started = now() - timedelta(minutes=1)
        task = Task(task_id, clock=lambda: started)
        task.apply(Action.START, origin="remote")
        self.add(task)
        return task


@pytest.fixture(params=KINDS)
def kit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Kit]:
    dsn = None if request.param == "sqlite" else request.getfixturevalue("postgres_server")
    opened = new_spec(request.param, str(tmp_path), dsn).open()
    yield opened
    opened.close()


@pytest.fixture
def make(kit: Kit) -> Callable[..., Receiving]:
    return lambda **options: Receiving(kit, **options)


@pytest.fixture
def rx(make: Callable[..., Receiving]) -> Receiving:
    return make()


def statuses(loaded: Loaded) -> list[str]:
    return [record.dest.value for record in loaded.task.history]


class TestApplying:
    def test_forward_event_is_applied_and_stored(self, rx: Receiving) -> None:
        """A status update moving a stored task forward is applied, written, and reported."""
        rx.running()
        receipt = rx.deliver(rx.event("task_1", "finished"))
        assert (receipt.outcome, receipt.task_id) == (APPLIED, "task_1")
        assert [(r.source, r.dest, r.origin) for r in receipt.records] == [
            (TaskStatus.RUNNING, TaskStatus.FINISHED, "remote")
        ]
        assert statuses(rx.stored("task_1")) == ["running", "finished"]
        assert "running -> finished" in receipt.detail

    def test_retried_delivery_is_a_duplicate(self, rx: Receiving) -> None:
        """The same event signed again later (a retry) is a duplicate: nothing is written."""
        rx.running()
        envelope = rx.event("task_1", "finished")
        assert rx.deliver(envelope).outcome is APPLIED
        token = rx.stored("task_1").token
        again = rx.deliver(envelope, signed_at=now() + timedelta(seconds=2))
        assert again.outcome is DUPLICATE
        assert again.event.digest == rx.deliver(envelope).event.digest
        assert rx.stored("task_1").token == token

    def test_older_event_after_a_newer_local_change_is_stale(self, rx: Receiving) -> None:
        """A late "started" arriving after a later local pause changes nothing."""
        task = rx.running()
        before = now() - timedelta(seconds=30)
        rx.act(task.id, Action.PAUSE)
        token = rx.stored(task.id).token
        receipt = rx.deliver(rx.event(task.id, "running", at=before))
        assert (receipt.outcome, receipt.records, receipt.refreshed) == (STALE, (), False)
        assert (rx.stored(task.id).token, rx.stored(task.id).task.status) == (
            token,
            TaskStatus.PAUSED,
        )

    def test_test_event_is_ignored(self, rx: Receiving) -> None:
        """The test event is verified and ignored, and says so."""
        receipt = rx.deliver(webhook_test_envelope(at=now()))
        assert (receipt.outcome, receipt.task_id) == (IGNORED, None)
        assert "test event" in receipt.detail

    def test_unknown_status_is_ignored(self, rx: Receiving) -> None:
        """An event with a status tasklife does not know is ignored, nothing written."""
        task = rx.running()
        envelope = rx.event(task.id, "finished")
        envelope["payload"]["status"] = "archived"
        receipt = rx.deliver(envelope)
        assert receipt.outcome is IGNORED
        assert "unknown status" in receipt.detail
        assert rx.stored(task.id).task.status is TaskStatus.RUNNING

    def test_sdk_signed_event_is_applied(self, rx: Receiving) -> None:
        """An event signed by the official SDK's signer is accepted and applied."""
        rx.running()
        envelope = rx.event("task_1", "stopped")
        stamp = str(int(now().timestamp()))
        headers = {
            "X-Browser-Use-Timestamp": stamp,
            "X-Browser-Use-Signature": create_webhook_signature(envelope, stamp, SECRET),
        }
        receipt = rx.post(json.dumps(envelope).encode(), headers)
        assert receipt.outcome is APPLIED
        assert rx.stored("task_1").task.status is TaskStatus.STOPPED


class TestRefusing:
    @pytest.mark.parametrize(
        ("tamper", "error"),
        [
            pytest.param(lambda b, h: (b, {**h, "X-Browser-Use-Signature": "0" * 64}),
                         InvalidSignature, id="bad-signature"),
            pytest.param(lambda b, h: (b, {}), InvalidSignature, id="no-headers"),
            pytest.param(lambda b, h: (b.replace(b"finished", b"stopped"), h),
                         InvalidSignature, id="tampered-body"),
            pytest.param(lambda b, h: (b"{not json", h), MalformedWebhook, id="not-json"),
        ],
    )  # fmt: skip
    def test_unverified_delivery_changes_nothing(
        self, rx: Receiving, tamper: Callable[..., Any], error: type[Exception]
    ) -> None:
        """A delivery that fails verification raises its typed error; the task is unchanged."""
        rx.running()
        envelope = rx.event("task_1", "finished")
        body = json.dumps(envelope).encode()
        bad_body, bad_headers = tamper(body, sign(envelope, SECRET, timestamp=now()))
        with pytest.raises(error):
            rx.post(bad_body, bad_headers)
        assert rx.stored("task_1").task.status is TaskStatus.RUNNING

    def test_old_delivery_is_refused(self, rx: Receiving) -> None:
        """A delivery signed beyond the tolerance raises WebhookTooOld."""
        rx.running()
        with pytest.raises(WebhookTooOld):
            rx.deliver(rx.event("task_1", "finished"), signed_at=now() - timedelta(seconds=301))
        assert rx.stored("task_1").task.status is TaskStatus.RUNNING

    def test_bad_arguments_are_typed_and_secret_stays_out_of_repr(self, kit: Kit) -> None:
        """Bad settings raise InvalidArgument; the repr never shows the secret."""
        for options in ({"skew": -1}, {"attempts": 0}, {"refresh": object()},
                        {"tolerance": -1}, {"tolerance": float("nan")}):  # fmt: skip
            with pytest.raises(InvalidArgument):
                WebhookReceiver(kit.store, SECRET, **options)
        with pytest.raises(InvalidArgument):
            WebhookReceiver(kit.store, "")
        assert SECRET not in repr(WebhookReceiver(kit.store, [SECRET, "other"]))


class TestUnknownTasks:
    def test_default_hook_ignores_and_says_so(self, rx: Receiving) -> None:
        """An event for a task the store lacks is ignored by default, and stores nothing."""
        receipt = rx.deliver(rx.event("task_unknown", "running"))
        assert (receipt.outcome, receipt.attached) == (IGNORED, False)
        assert "'task_unknown' is not stored here" in receipt.detail
        with rx.kit.transaction() as tx:
            assert tx.changes() == []

    def test_attach_hook_stores_the_remote_view(self, make: Callable[..., Receiving]) -> None:
        """A hook attaching from the remote stores the task as the remote has it."""
        rx = make(attach=True)
        task_id = rx.remote.run_task("find a flight")
        rx.remote.push(task_id, Action.PAUSE)
        receipt = rx.deliver(rx.event(task_id, "running", at=now() - timedelta(seconds=5)))
        assert (receipt.outcome, receipt.attached) == (APPLIED, True)
        assert rx.stored(task_id).task.status is TaskStatus.PAUSED

    def test_task_attached_meanwhile_is_observed(self, make: Callable[..., Receiving]) -> None:
        """If another delivery stored the task while the hook ran, the event applies to it."""
        holder: list[Receiving] = []

        def racing_hook(event: StatusUpdateEvent) -> Any:
            rx = holder[0]
            first = Task(event.task_id)
            first.apply(Action.START, origin="remote")  # another delivery got there first
            if not isinstance(rx.kit, AsyncPostgresKit):
                rx.add(first)
                return Task(event.task_id)

            async def attach() -> Task:  # on the kit's loop: the store's own coroutines
                async with rx.kit.store.transaction() as tx:
                    await tx.add(first)
                return Task(event.task_id)

            return attach()

        rx = make(unknown_task=racing_hook)
        holder.append(rx)
        receipt = rx.deliver(rx.event("task_1", "finished"))
        assert (receipt.outcome, receipt.attached) == (APPLIED, True)
        assert statuses(rx.stored("task_1")) == ["running", "finished"]

    def test_hook_returning_another_task_is_refused(self, make: Callable[..., Receiving]) -> None:
        """A hook that returns a task with another id is a typed error, nothing stored."""
        rx = make(unknown_task=lambda event: Task("task_other"))
        with pytest.raises(InvalidArgument, match="unknown_task"):
            rx.deliver(rx.event("task_1", "running"))
        with rx.kit.transaction() as tx:
            assert tx.changes() == []


class TestRefresh:
    @pytest.mark.parametrize(
        ("remote_moves", "outcome", "status"),
        [
            # The remote paused, then was resumed: the local pause is not its last word.
            pytest.param((Action.PAUSE, Action.RESUME), APPLIED, TaskStatus.RUNNING,
                         id="remote-newer"),
            # The remote is paused too: it confirms the local view, the event stays stale.
            pytest.param((Action.PAUSE,), STALE, TaskStatus.PAUSED, id="remote-agrees"),
        ],
    )  # fmt: skip
    def test_stale_event_reads_the_remote_instead_of_guessing(
        self,
        make: Callable[..., Receiving],
        remote_moves: tuple[Action, ...],
        outcome: ObservationOutcome,
        status: TaskStatus,
    ) -> None:
        """With refresh, a stale event makes the receiver read the remote and observe that."""
        rx = make(refresh=True)
        task_id = rx.remote.run_task("find a flight")
        rx.running(task_id)
        rx.act(task_id, Action.PAUSE)
        for move in remote_moves:
            rx.remote.push(task_id, move)
        receipt = rx.deliver(rx.event(task_id, "running", at=now() - timedelta(seconds=30)))
        assert (receipt.outcome, receipt.refreshed) == (outcome, True)
        assert rx.stored(task_id).task.status is status

    def test_failed_read_leaves_the_event_stale(self, make: Callable[..., Receiving]) -> None:
        """A refresh whose read fails reports the event stale, says why, changes nothing."""
        rx = make(refresh=True)
        rx.running("task_1")  # the remote has no such task: its read raises TaskNotFound
        rx.act("task_1", Action.PAUSE)
        receipt = rx.deliver(rx.event("task_1", "running", at=now() - timedelta(seconds=30)))
        assert (receipt.outcome, receipt.refreshed) == (STALE, True)
        assert "TaskNotFound" in receipt.detail
        assert rx.stored("task_1").task.status is TaskStatus.PAUSED


class TestConflict:
    def test_terminal_disagreement_is_a_conflict_and_converges(self, rx: Receiving) -> None:
        """stopped here, finished there: a conflict outcome; from_remote + replace converges."""
        task = rx.running()
        rx.act(task.id, Action.STOP)
        envelope = rx.event(task.id, "finished")
        receipt = rx.deliver(envelope)
        assert receipt.outcome is CONFLICT
        assert receipt.conflict is not None
        assert (receipt.conflict.local, receipt.conflict.remote) == (
            TaskStatus.STOPPED,
            TaskStatus.FINISHED,
        )
        assert rx.stored(task.id).task.status is TaskStatus.STOPPED  # nothing changed
        # The documented way to converge on the remote's truth (tasklife.service.receiver).
        event = receipt.event
        assert isinstance(event, StatusUpdateEvent)
        rebuilt = Task.from_remote(task.id, event.status, at=event.timestamp, ref=event.digest)
        with rx.kit.transaction() as tx:
            tx.replace(rebuilt, token=tx.load(task.id).token)
        assert statuses(rx.stored(task.id)) == ["running", "finished"]
        assert rx.deliver(envelope).outcome is DUPLICATE
