"""``webhook_router`` mounted on a FastAPI app, served by a real uvicorn on 127.0.0.1.

Two hosts: a ``WebhookReceiver`` over a SQLite file (run in the thread pool) and an
``AsyncWebhookReceiver`` over PostgreSQL (awaited on the server's loop, its store opened in the
app's lifespan). Deliveries are real HTTP posts; the store is read back directly.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_use_sdk.lib.webhooks import create_webhook_signature
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import task_ids
from webhooks_support import SECRET

from tasklife import Task, TaskStatus
from tasklife.lifecycle import Action
from tasklife.server import DEFAULT_WEBHOOK_PATH, BackgroundServer, webhook_app, webhook_router
from tasklife.service import AsyncWebhookReceiver, WebhookReceiver
from tasklife.store import AsyncPostgresTaskStore, PostgresTaskStore, SQLiteTaskStore
from tasklife.webhooks import sign, status_update_envelope, webhook_test_envelope

LIMIT = 64 * 1024
HOUR = timedelta(hours=1)


def now() -> datetime:
    return datetime.now(UTC)


class Host:
    """A served app with the router, a client on it, and a sync store to read it back."""

    def __init__(self, server: BackgroundServer, store: Any) -> None:
        self.server = server
        self.store = store
        self.http = httpx.Client(base_url=server.base_url, timeout=10)

    def post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return self.http.post(DEFAULT_WEBHOOK_PATH, content=body, headers=headers)

    def deliver(
        self, envelope: dict[str, Any], signed_at: datetime | None = None
    ) -> httpx.Response:
        body = json.dumps(envelope, ensure_ascii=False).encode()
        return self.post(body, sign(envelope, SECRET, timestamp=signed_at or now()))

    def add_running(self, task_id: str) -> None:
        task = Task(task_id)
        task.apply(Action.START, origin="remote")
        with self.store.transaction() as tx:
            tx.add(task)

    def status(self, task_id: str) -> TaskStatus:
        with self.store.transaction() as tx:
            status: TaskStatus = tx.load(task_id).task.status
        return status


def _ready(app: FastAPI) -> None:
    @app.get("/ready")
    def ready() -> dict[str, str]:
        return {}


@pytest.fixture(scope="module", params=["sqlite", "postgres-async"])
def host(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Host]:
    if request.param == "sqlite":
        db = tmp_path_factory.mktemp("router") / "tasks.sqlite3"
        store: Any = SQLiteTaskStore(db)
        app = webhook_app(WebhookReceiver(store, SECRET, max_body_bytes=LIMIT))
    else:
        dsn = request.getfixturevalue("postgres_server")
        schema = f"r_{uuid.uuid4().hex[:12]}"
        store = PostgresTaskStore(dsn, schema=schema, max_size=2)

        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            served = await AsyncPostgresTaskStore(dsn, schema=schema).open()
            receiver = AsyncWebhookReceiver(served, SECRET, max_body_bytes=LIMIT)
            app.include_router(webhook_router(receiver))
            yield
            await served.aclose()

        app = FastAPI(lifespan=lifespan)
    _ready(app)
    try:
        with BackgroundServer(app, ready_path="/ready") as server:
            served_host = Host(server, store)
            yield served_host
            served_host.http.close()
    finally:
        store.close()


@pytest.fixture
def task_id(host: Host) -> str:
    """A running task stored in the host's store."""
    new = f"task_{uuid.uuid4().hex}"
    host.add_running(new)
    return new


class TestAnswers:
    def test_applied_event_is_200_with_the_receipt(self, host: Host, task_id: str) -> None:
        """A verified event is applied and answered 200 with its outcome and records."""
        answer = host.deliver(status_update_envelope(task_id, "finished", at=now()))
        assert answer.status_code == 200
        body = answer.json()
        assert (body["outcome"], body["task_id"], body["type"]) == (
            "applied", task_id, "agent.task.status_update"
        )  # fmt: skip
        assert [r["dest"] for r in body["records"]] == ["finished"]
        assert host.status(task_id) is TaskStatus.FINISHED

    @pytest.mark.parametrize(
        ("make", "outcome"),
        [
            pytest.param(lambda t: status_update_envelope(t, "running", at=now()), "duplicate",
                         id="duplicate"),
            pytest.param(lambda t: status_update_envelope(t, "paused", at=now() - HOUR),
                         "stale", id="stale"),
            pytest.param(lambda t: status_update_envelope("task_nobody", "running", at=now()),
                         "ignored", id="unknown-task"),
            pytest.param(lambda t: webhook_test_envelope(at=now()), "ignored", id="test-event"),
        ],
    )  # fmt: skip
    def test_every_verified_event_is_2xx(
        self, host: Host, task_id: str, make: Callable[[str], dict[str, Any]], outcome: str
    ) -> None:
        """Duplicates, stale and ignored events are answered 200 too (the sender stops)."""
        answer = host.deliver(make(task_id))
        assert (answer.status_code, answer.json()["outcome"]) == (200, outcome)
        assert host.status(task_id) is TaskStatus.RUNNING

    def test_conflict_is_200_with_the_outcome(self, host: Host, task_id: str) -> None:
        """A terminal disagreement is answered 200 with the conflict outcome."""
        assert host.deliver(status_update_envelope(task_id, "stopped", at=now())).is_success
        answer = host.deliver(status_update_envelope(task_id, "finished", at=now()))
        assert (answer.status_code, answer.json()["outcome"]) == (200, "conflict")
        assert host.status(task_id) is TaskStatus.STOPPED

    def test_sdk_signed_event_is_accepted(self, host: Host, task_id: str) -> None:
        """An event signed by the official SDK's signer is accepted over HTTP."""
        envelope = status_update_envelope(task_id, "paused", at=now() + timedelta(seconds=5))
        stamp = str(int(now().timestamp()))
        headers = {
            "X-Browser-Use-Timestamp": stamp,
            "X-Browser-Use-Signature": create_webhook_signature(envelope, stamp, SECRET),
        }
        answer = host.post(json.dumps(envelope).encode(), headers)
        assert (answer.status_code, answer.json()["outcome"]) == (200, "applied")
        assert host.status(task_id) is TaskStatus.PAUSED


class TestRefusals:
    @pytest.mark.parametrize(
        ("tamper", "code"),
        [
            pytest.param(lambda b, h: (b, {**h, "X-Browser-Use-Signature": "a" * 64}), 401,
                         id="wrong-signature"),
            pytest.param(lambda b, h: (b, {"X-Browser-Use-Timestamp": "1"}), 401,
                         id="no-signature"),
            pytest.param(lambda b, h: (b"[1, 2", h), 400, id="not-json"),
            pytest.param(lambda b, h: (b" " * (LIMIT + 1), h), 400, id="too-large"),
        ],
    )  # fmt: skip
    def test_refused_delivery(
        self, host: Host, task_id: str, tamper: Callable[..., Any], code: int
    ) -> None:
        """Unauthentic deliveries are 401, malformed bodies 400; nothing changes."""
        envelope = status_update_envelope(task_id, "finished", at=now())
        body, headers = tamper(
            json.dumps(envelope).encode(), sign(envelope, SECRET, timestamp=now())
        )
        answer = host.post(body, headers)
        assert answer.status_code == code
        assert SECRET not in answer.text
        assert host.status(task_id) is TaskStatus.RUNNING

    def test_old_signature_is_401(self, host: Host, task_id: str) -> None:
        """A delivery signed more than 300 s ago is 401."""
        envelope = status_update_envelope(task_id, "finished", at=now())
        answer = host.deliver(envelope, signed_at=now() - timedelta(seconds=400))
        assert answer.status_code == 401
        assert host.status(task_id) is TaskStatus.RUNNING


headers_strategy = st.dictionaries(
    st.sampled_from(["X-Browser-Use-Timestamp", "X-Browser-Use-Signature", "Content-Type", "X-A"]),
    # printable ASCII; an HTTP client sends no value with surrounding whitespace
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=70).map(str.strip),
    max_size=3,
)


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    """Any bytes and headers, or an authentic delivery of any envelope-ish JSON."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=300)), draw(headers_strategy)
    payload = draw(st.fixed_dictionaries({}, optional={
        "task_id": task_ids | st.integers() | st.none(),
        "session_id": task_ids,
        "status": st.sampled_from(["initializing", "started", "paused", "stopped", "finished",
                                   "failed", "odd"]) | st.integers(),
        "metadata": st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2)
                    | st.integers(),
    }))  # fmt: skip
    envelope = draw(st.fixed_dictionaries({}, optional={
        "type": st.sampled_from(["agent.task.status_update", "test", "other"]) | st.integers(),
        "timestamp": st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat)
                     | st.text(max_size=8) | st.integers(),
        "payload": st.just(payload) | st.text(max_size=4),
    }))  # fmt: skip
    return json.dumps(envelope).encode(), sign(envelope, SECRET, timestamp=now())


class TestNeverFiveHundred:
    @settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(delivery=deliveries())
    def test_any_bytes_and_headers_are_200_400_or_401(
        self, host: Host, delivery: tuple[bytes, dict[str, str]]
    ) -> None:
        """Whatever the body and headers, the router answers 200, 400 or 401, never 500."""
        body, headers = delivery
        answer = host.post(body, headers)
        assert answer.status_code in (200, 400, 401), answer.text
        assert SECRET not in answer.text


def test_store_failure_is_503(tmp_path: Path) -> None:
    """A store that cannot be written answers 503, so that the sender retries later."""
    store = SQLiteTaskStore(tmp_path / "t.sqlite3")
    app = FastAPI()
    app.include_router(webhook_router(WebhookReceiver(store, SECRET)))
    _ready(app)
    store.close()
    envelope = status_update_envelope("task_1", "finished", at=now())
    with BackgroundServer(app, ready_path="/ready") as server:
        answer = httpx.post(
            f"{server.base_url}{DEFAULT_WEBHOOK_PATH}",
            content=json.dumps(envelope),
            headers=sign(envelope, SECRET, timestamp=now()),
        )
    assert answer.status_code == 503
    assert "retry" in answer.json()["detail"]


def test_router_arguments_are_typed(tmp_path: Path) -> None:
    """A router needs a receiver and a path starting with '/'."""
    from tasklife.errors import InvalidArgument  # noqa: PLC0415

    with SQLiteTaskStore(tmp_path / "t.sqlite3") as store:
        with pytest.raises(InvalidArgument):
            webhook_router(WebhookReceiver(store, SECRET), path="hooks")
        with pytest.raises(InvalidArgument):
            webhook_router(store)  # type: ignore[arg-type]
