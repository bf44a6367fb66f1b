"""``WebhookSender`` against a real receiver on 127.0.0.1, on SQLite and on PostgreSQL.

Steps are driven one at a time (``consume``, ``deliver``) with an injected clock, so retry
schedules and leases are checked without time passing; the two-replica test runs the
background threads. On PostgreSQL the feed shows a commit once older transactions on the
server have ended, so the tests consume until the expected events are queued (a deadline, not
a sleep).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from operator import methodcaller
from pathlib import Path
from typing import Any

import psycopg
import pytest
from browser_use_sdk.lib.webhooks import (
    WebhookAgentTaskStatusUpdate,
    WebhookTest,
    verify_webhook_event_signature,
)
from clocks import ManualClock
from webhook_receiver import BIG, HANG, REDIRECT, Delivery, Receiver, closed_port, receiver, until

from tasklife import Task
from tasklife.errors import InvalidArgument
from tasklife.service import MAX_ANSWER_BYTES, WebhookSender, deliveries
from tasklife.store import PostgresTaskStore, SQLiteTaskStore, transact
from tasklife.webhooks import StatusUpdateEvent, TestEvent, body_digest, session_id_for, verify

SECRET = "whsec_SENTINEL_sender_9d41"
START = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A function opening a store on one fresh database (call it twice: two replicas)."""
    opened: list[Any] = []
    if request.param == "sqlite":
        path = tmp_path / "tasks.sqlite3"

        def open_one() -> Any:
            opened.append(SQLiteTaskStore(path))
            return opened[-1]
    else:
        dsn = request.getfixturevalue("postgres_server")
        schema = f"w_{uuid.uuid4().hex[:12]}"

        def open_one() -> Any:
            opened.append(PostgresTaskStore(dsn, schema=schema, max_size=8))
            return opened[-1]

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Any) -> Any:
    return open_store()


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    with receiver() as state:
        yield state


@pytest.fixture
def now() -> ManualClock:
    return ManualClock(START)


_OPEN: list[WebhookSender] = []


@pytest.fixture(autouse=True)
def _close_senders() -> Iterator[None]:
    """Close every sender a test made (their HTTP connections)."""
    yield
    while _OPEN:
        _OPEN.pop().close()


def new_sender(store: Any, url: str, now: ManualClock, **options: Any) -> WebhookSender:
    sender = WebhookSender(store, url, SECRET, clock=now, **options)
    _OPEN.append(sender)
    return sender


def run_task(store: Any, task_id: str, *actions: str) -> None:
    """Add ``task_id`` and apply each action in its own unit of work."""
    with store.transaction() as tx:
        tx.add(Task(task_id))
    for action in actions:
        transact(store, task_id, methodcaller(action))


def queue(sender: WebhookSender, count: int) -> None:
    """Consume the feed until ``count`` events are pending."""
    until(lambda: sender.consume() * 0 or sender.pending() >= count, what=f"{count} queued")


def drain(sender: WebhookSender) -> list[Any]:
    """Deliver every due event; the attempts made."""
    attempts = []
    while made := sender.deliver():
        attempts += made
    return attempts


def verified(delivery: Delivery, now: ManualClock) -> Any:
    """The event, verified by tasklife and by the official SDK (which must agree)."""
    event = verify(delivery.body, delivery.headers, SECRET, now=now())
    sdk = verify_webhook_event_signature(
        delivery.body.decode(),
        delivery.headers["X-Browser-Use-Signature"],
        delivery.headers["X-Browser-Use-Timestamp"],
        SECRET,
    )
    assert sdk is not None, "the official SDK refused a delivery"
    if isinstance(event, StatusUpdateEvent):
        assert isinstance(sdk, WebhookAgentTaskStatusUpdate)
        assert sdk.payload.status == event.remote_status
    else:
        assert isinstance(event, TestEvent)
        assert isinstance(sdk, WebhookTest)
    return event


def statuses(got: list[Delivery]) -> list[tuple[str, str]]:
    return [(json.loads(d.body)["payload"]["task_id"], json.loads(d.body)["payload"]["status"])
            for d in got]  # fmt: skip


class TestDelivery:
    def test_each_transition_is_posted_signed_in_order(
        self, store: Any, hooks: Receiver, now: ManualClock
    ) -> None:
        """Every record is posted once, signed, in the Browser Use vocabulary, in order."""
        run_task(store, "t1", "start", "pause", "resume", "finish")
        with new_sender(store, hooks.url, now) as sender:
            hooks.wait_for(4)
        got = hooks.got()
        assert statuses(got) == [("t1", "started"), ("t1", "paused"), ("t1", "started"),
                                 ("t1", "finished")]  # fmt: skip
        events = [verified(d, now) for d in got]
        assert {e.session_id for e in events} == {session_id_for("t1")}
        assert [e.task_id for e in events] == ["t1"] * 4
        assert got[0].headers["X-Browser-Use-Timestamp"] == str(int(START.timestamp()))
        assert got[0].headers["Content-Type"] == "application/json"
        assert sender.pending() == 0

    def test_event_time_is_the_transitions(
        self, store: Any, hooks: Receiver, now: ManualClock
    ) -> None:
        """The envelope's timestamp is when the transition was recorded, not when it was sent."""
        run_task(store, "t1", "start")
        with store.transaction() as tx:
            recorded = tx.load("t1").task.history[-1].at
        sender = new_sender(store, hooks.url, now)
        queue(sender, 1)
        drain(sender)
        event = verified(hooks.got()[0], now)
        assert event.timestamp == recorded

    def test_failed_is_sent_as_stopped_by_default(
        self, store: Any, hooks: Receiver, now: ManualClock
    ) -> None:
        """A failed task is sent as ``stopped``, which the official SDK accepts."""
        run_task(store, "t1", "start", "fail")
        sender = new_sender(store, hooks.url, now)
        queue(sender, 2)
        drain(sender)
        assert statuses(hooks.got()) == [("t1", "started"), ("t1", "stopped")]
        verified(hooks.got()[1], now)

    def test_failed_is_sent_as_failed_when_configured(
        self, store: Any, hooks: Receiver, now: ManualClock
    ) -> None:
        """``failed_as="failed"`` sends tasklife's own word."""
        run_task(store, "t1", "start", "fail")
        sender = new_sender(store, hooks.url, now, failed_as="failed")
        queue(sender, 2)
        drain(sender)
        assert statuses(hooks.got())[-1] == ("t1", "failed")
        event = verify(hooks.got()[1].body, hooks.got()[1].headers, SECRET, now=now())
        assert isinstance(event, StatusUpdateEvent)
        assert event.remote_status == "failed"

    def test_metadata_comes_from_the_hook(
        self, store: Any, hooks: Receiver, now: ManualClock
    ) -> None:
        """The task's metadata, read in the consuming transaction, travels in the payload."""
        run_task(store, "t1", "start")
        meta = {"campaign": "q4 \u2013 Zoë ☕"}
        sender = new_sender(store, hooks.url, now, metadata=lambda tx, task_id: meta)
        queue(sender, 1)
        drain(sender)
        assert verified(hooks.got()[0], now).metadata == meta

    def test_replaced_task_sends_its_status(
        self, store: Any, hooks: Receiver, now: ManualClock
    ) -> None:
        """A task replaced from the remote's view sends the status it now holds."""
        run_task(store, "t1", "start")
        rebuilt = Task("t1")
        rebuilt.start()
        rebuilt.stop()
        with store.transaction() as tx:
            tx.replace(rebuilt, token=tx.load("t1").token)
        sender = new_sender(store, hooks.url, now)
        queue(sender, 2)
        drain(sender)
        assert statuses(hooks.got()) == [("t1", "started"), ("t1", "stopped")]

    def test_test_event(self, store: Any, hooks: Receiver, now: ManualClock) -> None:
        """``send_test`` posts a signed ``test`` event."""
        sender = new_sender(store, hooks.url, now)
        sender.send_test()
        drain(sender)
        event = verified(hooks.got()[0], now)
        assert isinstance(event, TestEvent)

    def test_consumed_once(self, store: Any, hooks: Receiver, now: ManualClock) -> None:
        """A second sender on the same cursor queues nothing already consumed."""
        run_task(store, "t1", "start")
        first = new_sender(store, hooks.url, now)
        queue(first, 1)
        second = new_sender(store, hooks.url, now)
        assert second.consume() == 0
        assert len(drain(second)) == 1
        assert len(hooks.got()) == 1


class TestRetries:
    def test_receiver_answering_500_twice(
        self, store: Any, hooks: Receiver, now: ManualClock
    ) -> None:
        """Two 500s are retried after 1 s then 2 s, each signed afresh; the body is unchanged."""
        hooks.script = [500, 500]
        run_task(store, "t1", "start")
        sender = new_sender(store, hooks.url, now)
        queue(sender, 1)
        [first] = sender.deliver()
        assert (first.outcome, first.status_code, first.next_at) == (
            "retry", 500, START + timedelta(seconds=1),
        )  # fmt: skip
        assert sender.deliver() == []  # not due yet
        now.advance(1)
        [second] = sender.deliver()
        assert (second.outcome, second.attempt, second.next_at) == (
            "retry", 2, START + timedelta(seconds=3),
        )  # fmt: skip
        now.advance(1.5)
        assert sender.deliver() == []
        now.advance(0.5)
        [third] = sender.deliver()
        assert (third.outcome, third.attempt) == ("delivered", 3)
        got = hooks.got()
        stamps = [d.headers["X-Browser-Use-Timestamp"] for d in got]
        assert stamps == [str(int(START.timestamp()) + s) for s in (0, 1, 3)]
        assert {body_digest(d.body) for d in got} == {body_digest(got[0].body)}
        for delivery in got:
            assert verified(delivery, now).task_id == "t1"

    def test_receiver_down_then_dead_letter_then_replay(
        self, store: Any, hooks: Receiver, now: ManualClock
    ) -> None:
        """A refused connection is retried after 1, 2, 4, 8, 16 s, then kept as a dead letter,
        listed, and delivered when replayed."""
        run_task(store, "t1", "start")
        down = new_sender(store, f"http://127.0.0.1:{closed_port()}/hooks", now)
        queue(down, 1)
        waits = []
        outcomes = []
        for attempt_number in range(1, 7):
            [attempt] = down.deliver()
            outcomes.append(attempt.outcome)
            assert attempt.attempt == attempt_number
            assert attempt.problem is not None
            assert "could not post" in attempt.problem
            if attempt.next_at is not None:
                waits.append((attempt.next_at - now()).total_seconds())
                now.now = attempt.next_at
        assert waits == [1, 2, 4, 8, 16]
        assert outcomes == ["retry"] * 5 + ["dead"]
        assert down.deliver() == []
        assert down.pending() == 0
        [letter] = down.dead_letters()
        assert (letter.task_id, letter.status, letter.attempts) == ("t1", "running", 6)
        assert letter.last_error is not None
        up = new_sender(store, hooks.url, now)
        assert up.replay([letter.id + 1000]) == 0
        assert up.replay() == 1
        assert up.dead_letters() == []
        [attempt] = drain(up)
        assert (attempt.outcome, attempt.attempt) == ("delivered", 1)
        assert statuses(hooks.got()) == [("t1", "started")]
        assert body_digest(hooks.got()[0].body) == body_digest(letter.body)

    def test_delays_are_configurable(self, store: Any, now: ManualClock) -> None:
        """``delays=(5,)``: one retry after 5 s, then a dead letter."""
        run_task(store, "t1", "start")
        sender = new_sender(store, f"http://127.0.0.1:{closed_port()}/", now, delays=(5,))
        queue(sender, 1)
        [first] = sender.deliver()
        assert first.next_at == START + timedelta(seconds=5)
        now.advance(5)
        [second] = sender.deliver()
        assert second.outcome == "dead"

    def test_redirects_are_not_followed(
        self, store: Any, hooks: Receiver, now: ManualClock
    ) -> None:
        """A 302 is a failed attempt, and the redirect's target gets nothing."""
        hooks.script = [REDIRECT]
        run_task(store, "t1", "start")
        sender = new_sender(store, hooks.url, now)
        queue(sender, 1)
        [attempt] = sender.deliver()
        assert (attempt.outcome, attempt.status_code) == ("retry", 302)
        assert [d.path for d in hooks.got()] == ["/hooks/tasklife"]

    def test_big_answer_is_not_read_to_its_end(
        self, store: Any, hooks: Receiver, now: ManualClock
    ) -> None:
        """A 2xx with a 64 MiB body counts as delivered after reading a few KiB of it."""
        hooks.script = [BIG]
        run_task(store, "t1", "start")
        sender = new_sender(store, hooks.url, now)
        queue(sender, 1)
        [attempt] = sender.deliver()
        assert attempt.outcome == "delivered"
        until(lambda: hooks.answer_finished is not None, what="the receiver's write ended")
        assert hooks.answer_finished is False
        assert MAX_ANSWER_BYTES <= 64 * 1024

    def test_an_attempt_times_out(self, store: Any, hooks: Receiver, now: ManualClock) -> None:
        """A receiver that does not answer within ``timeout`` is a failed attempt."""
        hooks.script = [HANG]
        run_task(store, "t1", "start")
        sender = new_sender(store, hooks.url, now, timeout=1)
        queue(sender, 1)
        [attempt] = sender.deliver()
        hooks.release.set()
        assert attempt is not None
        assert attempt.outcome == "retry"
        assert attempt.problem is not None
        assert "no answer within 1s" in attempt.problem


class TestOrderAndClaims:
    def test_a_tasks_events_wait_for_its_failing_one(
        self, store: Any, hooks: Receiver, now: ManualClock
    ) -> None:
        """While a task's event is retried, its later events wait; other tasks' go on."""
        hooks.script = [500]
        run_task(store, "a", "start", "pause")
        run_task(store, "b", "start", "stop")
        sender = new_sender(store, hooks.url, now)
        queue(sender, 4)
        drain(sender)
        assert statuses(hooks.got())[1:] == [("b", "started"), ("b", "stopped")]
        now.advance(1)
        drain(sender)
        got = statuses(hooks.got())
        assert [s for t, s in got if t == "a"] == ["started", "started", "paused"]
        assert got[0] == ("a", "started")

    def test_a_dead_letter_does_not_block_its_task(
        self, store: Any, hooks: Receiver, now: ManualClock
    ) -> None:
        """Once a task's event is a dead letter, its later events go out."""
        hooks.script = [500]
        run_task(store, "a", "start", "pause")
        sender = new_sender(store, hooks.url, now, delays=())
        queue(sender, 2)
        assert [a.outcome for a in drain(sender)] == ["dead", "delivered"]
        assert statuses(hooks.got()) == [("a", "started"), ("a", "paused")]

    def test_a_dead_replicas_claim_is_taken_over(
        self, store: Any, hooks: Receiver, now: ManualClock
    ) -> None:
        """A claim whose lease ran out is taken by another sender; the first settles nothing."""
        run_task(store, "t1", "start")
        other = new_sender(store, hooks.url, now, lease=60)
        queue(other, 1)
        sql = deliveries.deliveries_sql(store.sql)
        with store.transaction() as tx:  # what a replica killed after its claim left behind
            claimed = tx.run_flow(deliveries.claim(sql, now(), timedelta(seconds=60)))
        assert isinstance(claimed, list)
        [stale] = claimed
        assert other.deliver() == []
        now.advance(60)
        [attempt] = other.deliver()
        assert attempt.outcome == "delivered"
        with store.transaction() as tx:  # the first one's late report changes nothing
            late = deliveries.settle(sql, [(stale, None)], [], now(), (1.0,))
            assert tx.run_flow(late) == [("lost", None)]
            assert tx.run_flow(deliveries.failed(sql, stale, "late", now(), (1.0,))) == (
                "lost", None,
            )  # fmt: skip
        assert len(hooks.got()) == 1

    def test_an_attempt_outliving_its_lease_is_lost(
        self, store: Any, hooks: Receiver, now: ManualClock, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A sender whose POST outlives its lease records nothing: another took the event over
        and delivered it; the late one says so."""
        hooks.script = [HANG]
        run_task(store, "t1", "start")
        slow = new_sender(store, hooks.url, now, lease=60, timeout=30)
        other = new_sender(store, hooks.url, now, lease=60)
        queue(slow, 1)
        late: list[Any] = []
        posting = threading.Thread(target=lambda: late.extend(slow.deliver()))
        posting.start()
        assert hooks.held.wait(30)
        now.advance(61)
        [taken] = other.deliver()
        hooks.release.set()
        posting.join(30)
        assert taken.outcome == "delivered"
        assert [(a.outcome, a.attempt) for a in late] == [("lost", 1)]
        assert "lease ran out" in caplog.text
        assert other.pending() == 0

    def test_a_batch_stops_posting_before_its_lease_ends(
        self, store: Any, hooks: Receiver, now: ManualClock
    ) -> None:
        """Claimed events a slow batch could not post within its lease are released at once."""
        hooks.script = [HANG]
        run_task(store, "a", "start")
        run_task(store, "b", "start")
        sender = new_sender(store, hooks.url, now, timeout=1, lease=1.5, batch=8)
        queue(sender, 2)
        [slow] = sender.deliver()
        hooks.release.set()
        assert (slow.task_id, slow.outcome) == ("a", "retry")
        [released] = sender.deliver()
        assert (released.task_id, released.outcome, released.attempt) == ("b", "delivered", 1)

    def test_settling_waits_for_a_claimers_brief_row_lock(
        self, store: Any, hooks: Receiver, now: ManualClock, request: pytest.FixtureRequest
    ) -> None:
        """A delivered row another transaction briefly locks is still dropped (not left leased
        as if its lease were lost): PostgreSQL claimers lock rows they then find leased."""
        if not isinstance(store, PostgresTaskStore):
            pytest.skip("SQLite serialises writers: no transaction can hold a row meanwhile")
        run_task(store, "t1", "start")
        sender = new_sender(store, hooks.url, now)
        queue(sender, 1)
        sql = deliveries.deliveries_sql(store.sql)
        with store.transaction() as tx:
            claimed = tx.run_flow(deliveries.claim(sql, now(), timedelta(seconds=60)))
        assert isinstance(claimed, list)
        table = sql.tables["webhook_deliveries"]
        outcome: list[Any] = []
        with psycopg.connect(request.getfixturevalue("postgres_server")) as holder:
            holder.execute(f"SELECT id FROM {table} FOR UPDATE")
            settle = deliveries.settle(sql, [(claimed[0], None)], [], now(), ())
            settling = threading.Thread(
                target=lambda: outcome.append(sender.deliveries.run(settle))
            )
            settling.start()
            until(
                lambda: (
                    holder.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND datname = current_database()"
                    ).fetchone()
                    == (1,)
                ),
                what="the settling transaction waiting for the row lock",
            )
            holder.rollback()
            settling.join(30)
        assert outcome == [[("delivered", None)]]
        assert sender.pending() == 0

    def test_two_senders_on_one_database_send_each_event_once(
        self, open_store: Any, hooks: Receiver
    ) -> None:
        """Two replicas running together deliver every event, each once, in order per task."""
        first_store = open_store()
        second_store = open_store()
        tasks = [f"task-{n}" for n in range(12)]
        with (
            WebhookSender(first_store, hooks.url, SECRET, workers=3),
            WebhookSender(second_store, hooks.url, SECRET, workers=3),
        ):
            for n, task_id in enumerate(tasks):
                store = first_store if n % 2 else second_store
                run_task(store, task_id, "start", "pause", "resume", "stop")
            got = hooks.wait_for(4 * len(tasks))
        assert Counter(body_digest(d.body) for d in got).most_common(1)[0][1] == 1
        assert len(got) == 4 * len(tasks)
        for task_id in tasks:
            mine = [s for t, s in statuses(got) if t == task_id]
            assert mine == ["started", "paused", "started", "stopped"]


class TestConfiguration:
    @pytest.mark.parametrize(
        "url",
        ["http://example.com/hooks", "ftp://127.0.0.1/", "not a url", "http://", "https://:80/"],
    )
    def test_refused_urls(self, store: Any, url: str) -> None:
        """Plain http off loopback, other schemes and hostless URLs are refused."""
        with pytest.raises(InvalidArgument) as caught:
            WebhookSender(store, url, SECRET)
        assert caught.value.argument == "url"

    def test_http_off_loopback_when_allowed(self, store: Any) -> None:
        """``allow_http=True`` accepts plain http to another host."""
        sender = WebhookSender(store, "http://example.com/hooks", SECRET, allow_http=True)
        assert "example.com" in repr(sender)
        sender.close()

    @pytest.mark.parametrize("secret", ["", "   ", f" {SECRET}", f"{SECRET}\n", 42])
    def test_refused_secrets(self, store: Any, secret: Any) -> None:
        """Empty, blank and whitespace-padded secrets are refused, without being shown."""
        with pytest.raises(InvalidArgument) as caught:
            WebhookSender(store, "https://example.com/", secret)
        assert caught.value.argument == "secret"
        assert SECRET not in str(caught.value)

    @pytest.mark.parametrize(
        ("option", "value"),
        [("delays", [1, -1]), ("delays", "12"), ("timeout", 0), ("timeout", float("inf")),
         ("lease", -1), ("workers", 0), ("failed_as", "error")],
    )  # fmt: skip
    def test_refused_options(self, store: Any, option: str, value: Any) -> None:
        """Out-of-range options raise ``InvalidArgument`` naming them."""
        with pytest.raises(InvalidArgument) as caught:
            WebhookSender(store, "https://example.com/", SECRET, **{option: value})
        assert caught.value.argument == option

    def test_secret_and_path_never_shown(
        self, store: Any, now: ManualClock, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Neither the secret nor the URL's path is in a repr, an attempt or a log line."""
        caplog.set_level(logging.DEBUG)
        run_task(store, "t1", "start")
        url = f"http://127.0.0.1:{closed_port()}/hooks/TOKEN_IN_PATH"
        sender = new_sender(store, url, now, delays=(0,))
        queue(sender, 1)
        attempts = drain(sender)
        shown = [repr(sender), *map(repr, attempts), *map(repr, sender.dead_letters()),
                 caplog.text]  # fmt: skip
        assert attempts[-1].outcome == "dead"
        assert "dead letter" in caplog.text
        for text in shown:
            assert SECRET not in text
            assert "TOKEN_IN_PATH" not in text
