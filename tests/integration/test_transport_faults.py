"""The httpx transports, sync and async, against a real loopback fault server.

Every endpoint's success path and every fault (500, 502, 503 + Retry-After, 429, an answer
slower than the timeout, a connection dropped after the request was read, a truncated body,
invalid JSON, a wrong content type, an unknown status, the seed's 422) is asserted, and
after each failure the local task is exactly what it was (``to_dict()`` compared). Then the
hostile server: answers httpx parses but a careless reader chokes on (depth, dates, shapes),
answers that trickle or never end, a key echoed back, a closed transport, a cancelled caller.
The rules of the read-back themselves are tested in ``tests/unit/test_transport_remote.py``.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from faces import FACES

from integration.faultserver import SEED_422, FaultServer, Reply
from integration.transport_kit import Kit, make_kit
from tasklife import CannotResumeStoppedTask, TaskStatus
from tasklife.lifecycle import Action
from tasklife.transports import (
    ActionRefused,
    AuthError,
    ConnectionFailed,
    ProtocolError,
    RateLimited,
    ServerError,
    TaskNotFound,
    TransportClosed,
    TransportError,
    TransportTimeout,
    ValidationFailed,
    WaitTimeout,
)

KEY = "tl-fault-key-5f1e2d3c4b5a"


@pytest.fixture
def server() -> Iterator[FaultServer]:
    """A fault server on a free loopback port that expects ``KEY``."""
    with FaultServer(api_key=KEY) as fault_server:
        yield fault_server


@pytest.fixture(params=FACES)
def side(request: pytest.FixtureRequest) -> str:
    """Which face: "sync" or "async"."""
    return str(request.param)


@pytest.fixture
def kit(side: str, server: FaultServer) -> Iterator[Kit]:
    """The sync or the async transport on ``server``."""
    yield from make_kit(side, server.base_url, KEY)


def paths(server: FaultServer) -> list[str]:
    """``METHOD path`` of every request the server received."""
    return [f"{r.method} {r.path}" for r in server.requests]


class TestEndpoints:
    def test_run_task_sends_the_body_and_reads_the_task_back(
        self, kit: Kit, server: FaultServer
    ) -> None:
        """create: POST run-task with the options given, then GET the view (running)."""
        run = kit.create("find a flight", max_agent_steps=20, metadata={"k": "v"})
        assert run.status is TaskStatus.RUNNING
        post = server.requests[0]
        assert (post.method, post.path) == ("POST", "/api/v1/run-task")
        assert post.headers["authorization"] == f"Bearer {KEY}"
        assert b'"max_agent_steps": 20' in post.body or b'"max_agent_steps":20' in post.body
        assert paths(server)[1] == f"GET /api/v1/task/{run.id}"

    def test_push_pause_resume_stop(self, kit: Kit, server: FaultServer) -> None:
        """Each action is one PUT with task_id in the query; local records are 'local'."""
        run = kit.create("x")
        assert (run.pause(), run.resume(), run.stop()) == (True, True, True)
        assert server.status_of(run.id) is TaskStatus.STOPPED
        puts = [r for r in server.requests if r.method == "PUT"]
        assert [(r.path, r.query["task_id"]) for r in puts] == [
            (f"/api/v1/{a}-task", [run.id]) for a in ("pause", "resume", "stop")
        ]
        assert [r.origin for r in run.task.history] == ["remote", "local", "local", "local"]

    def test_resume_of_a_stopped_task_sends_nothing(self, kit: Kit, server: FaultServer) -> None:
        """The local guard refuses before any request."""
        run = kit.create("x")
        run.stop()
        sent = len(server.requests)
        with pytest.raises(CannotResumeStoppedTask):
            run.resume()
        assert len(server.requests) == sent

    def test_get_status(self, kit: Kit, server: FaultServer) -> None:
        """GET .../status: the bare JSON string becomes a TaskStatus."""
        server.add_task("task_p", status="paused")
        assert kit.transport.get_status("task_p") is TaskStatus.PAUSED

    def test_get_task_view(self, kit: Kit, server: FaultServer) -> None:
        """GET /task/{id}: every documented field is read; steps count and step objects."""
        server.add_task("task_v", status="finished", steps=3, text="t")
        view = kit.transport.get_task("task_v")
        assert (view.id, view.status, view.task, view.steps) == (
            "task_v", TaskStatus.FINISHED, "t", 3,
        )  # fmt: skip
        assert [s.step for s in view.step_details] == [1, 2, 3]
        assert view.finished_at is not None

    def test_list_tasks_paged(self, kit: Kit, server: FaultServer) -> None:
        """GET /tasks?page=2&limit=1: the second newest task, with the totals."""
        for name in ("task_a", "task_b", "task_c"):
            server.add_task(name)
        page = kit.transport.list_tasks(page=2, limit=1)
        assert [t.id for t in page.tasks] == ["task_b"]
        assert (page.page, page.limit, page.total_pages, page.total_count) == (2, 1, 3, 3)

    def test_attach_rebuilds_the_local_task(self, kit: Kit, server: FaultServer) -> None:
        """attach: a paused remote task with 3 steps becomes a local paused task, 3 steps."""
        server.add_task("task_old", status="paused", steps=3)
        run = kit.attach("task_old")
        assert (run.status, run.steps) == (TaskStatus.PAUSED, 3)
        assert [(r.action, r.origin) for r in run.task.history] == [
            (Action.START, "remote"), (Action.PAUSE, "remote"),
        ]  # fmt: skip

    def test_wait_until_paused(self, kit: Kit, server: FaultServer) -> None:
        """wait(until=paused) returns once the remote shows paused, reporting progress."""
        run = kit.create("x")
        server.tasks[run.id].status = TaskStatus.PAUSED
        seen: list[TaskStatus] = []
        assert run.wait(TaskStatus.PAUSED, timeout=5, on_progress=lambda v: seen.append(v.status))
        assert seen == [TaskStatus.PAUSED]


# faults on a push: (reply, expected error, may_have_reached_server)
PUSH_FAULTS = [
    pytest.param(Reply.error(500, "boom"), ServerError, True, id="500"),
    pytest.param(Reply.error(502, "bad gateway"), ServerError, True, id="502"),
    pytest.param(Reply.error(503, "busy", retry_after="2"), ServerError, True, id="503"),
    pytest.param(Reply.slow(), TransportTimeout, True, id="slow-headers"),
    pytest.param(Reply.drop(), ConnectionFailed, True, id="dropped-after-request"),
    pytest.param(Reply.truncated(b"{"), ProtocolError, True, id="truncated-body"),
    pytest.param(Reply.raw(b"{not json"), ProtocolError, True, id="invalid-json"),
    pytest.param(Reply.raw(b"<html/>", content_type="text/html"), ProtocolError, True,
                 id="wrong-content-type"),
    pytest.param(Reply.json(SEED_422, 422), ValidationFailed, False, id="seed-422"),
    pytest.param(Reply.error(401, "bad key"), AuthError, False, id="401"),
    pytest.param(Reply.error(403, "forbidden"), AuthError, False, id="403"),
    pytest.param(Reply.error(404, "Task not found"), TaskNotFound, False, id="404"),
    pytest.param(Reply.error(418, "teapot"), TransportError, False, id="418"),
]  # fmt: skip


class TestPushFaults:
    @pytest.mark.parametrize(("reply", "error", "reached"), PUSH_FAULTS)
    def test_a_failed_pause_changes_nothing(
        self,
        kit: Kit,
        server: FaultServer,
        reply: Reply,
        error: type[TransportError],
        reached: bool,
    ) -> None:
        """The typed error is raised, the remote is still running, the local task unchanged."""
        run = kit.create("x")
        before = run.task.to_dict()
        server.script(attrs.evolve(reply, path="/api/v1/pause-task"))
        with pytest.raises(error) as caught:
            run.pause()
        assert type(caught.value) is error
        assert caught.value.may_have_reached_server is reached
        assert (caught.value.method, caught.value.path) == ("PUT", "/api/v1/pause-task")
        assert run.task.to_dict() == before
        assert server.status_of(run.id) is TaskStatus.RUNNING
        puts = [r for r in server.requests if r.path == "/api/v1/pause-task"]
        assert len(puts) == 1  # a write is never retried after these

    def test_seed_422_keeps_the_detail_list(self, kit: Kit, server: FaultServer) -> None:
        """ValidationFailed.detail is the 422 body's detail list, as sent."""
        run = kit.create("x")
        server.script(Reply.json(SEED_422, 422, path="/api/v1/pause-task"))
        with pytest.raises(ValidationFailed) as caught:
            run.pause()
        assert caught.value.detail == SEED_422["detail"]
        assert caught.value.status_code == 422

    def test_429_on_a_push_is_retried_after_retry_after(
        self, kit: Kit, server: FaultServer
    ) -> None:
        """A write is retried after 429, waiting the Retry-After seconds."""
        run = kit.create("x")
        server.script(Reply.error(429, "slow down", retry_after="3", path="/api/v1/pause-task"))
        assert run.pause() is True
        assert kit.sleeps == [3.0]
        assert server.status_of(run.id) is TaskStatus.PAUSED

    def test_429_until_the_attempts_run_out(self, kit: Kit, server: FaultServer) -> None:
        """Four 429s: RateLimited (with retry_after) after four attempts, local unchanged."""
        run = kit.create("x")
        before = run.task.to_dict()
        server.script(*[Reply.error(429, "no", retry_after="1", path="/api/v1/pause")] * 4)
        with pytest.raises(RateLimited) as caught:
            run.pause()
        assert caught.value.retry_after == 1.0
        assert kit.sleeps == [1.0, 1.0, 1.0]
        assert run.task.to_dict() == before

    def test_retry_after_is_capped(self, kit: Kit, server: FaultServer) -> None:
        """A Retry-After of an hour waits the policy's cap (10 s), not an hour."""
        run = kit.create("x")
        server.script(Reply.error(429, "no", retry_after="3600", path="/api/v1/pause"))
        run.pause()
        assert kit.sleeps == [10.0]


READ_FAULTS = [
    pytest.param(Reply.truncated(), ProtocolError, id="truncated-body"),
    pytest.param(Reply.raw(b"{not json"), ProtocolError, id="invalid-json"),
    pytest.param(Reply.raw(b"running", content_type="text/plain"), ProtocolError,
                 id="wrong-content-type"),
    pytest.param(Reply.json({"id": "x", "status": "exploded"}), ProtocolError,
                 id="unknown-status"),
    pytest.param(Reply.json(["not", "an", "object"]), ProtocolError, id="wrong-shape"),
    pytest.param(Reply.error(500, "boom"), ServerError, id="500"),
    pytest.param(Reply.slow(), TransportTimeout, id="slow-headers"),
    pytest.param(Reply.json(SEED_422, 422), ValidationFailed, id="seed-422"),
]  # fmt: skip


class TestReadFaults:
    @pytest.mark.parametrize(("reply", "error"), READ_FAULTS)
    def test_a_failed_refresh_changes_nothing(
        self, kit: Kit, server: FaultServer, reply: Reply, error: type[TransportError]
    ) -> None:
        """refresh() raises the typed error and leaves the local task as it was."""
        run = kit.create("x")
        server.tasks[run.id].status = TaskStatus.FINISHED
        before = run.task.to_dict()
        server.script(attrs.evolve(reply, path="/api/v1/task/"))
        with pytest.raises(error):
            run.refresh()
        assert run.task.to_dict() == before

    def test_a_dropped_read_is_retried(self, kit: Kit, server: FaultServer) -> None:
        """A read whose connection drops before the answer is repeated (it had no effect)."""
        run = kit.create("x")
        server.tasks[run.id].status = TaskStatus.FINISHED
        server.script(attrs.evolve(Reply.drop(), path="/api/v1/task/"))
        run.refresh()
        assert run.status is TaskStatus.FINISHED
        assert server.pending() == 0

    def test_a_read_dropped_every_time_fails_and_changes_nothing(
        self, kit: Kit, server: FaultServer
    ) -> None:
        """When every attempt drops, refresh() raises ConnectionFailed; the task is unchanged."""
        run = kit.create("x")
        server.tasks[run.id].status = TaskStatus.FINISHED
        before = run.task.to_dict()
        server.script(*[attrs.evolve(Reply.drop(), path="/api/v1/task/")] * 4)
        with pytest.raises(ConnectionFailed):
            run.refresh()
        assert run.task.to_dict() == before

    def test_unknown_status_string(self, kit: Kit, server: FaultServer) -> None:
        """GET .../status answering "exploded" is a ProtocolError naming the value."""
        server.add_task("task_u")
        server.script(Reply.json("exploded"))
        with pytest.raises(ProtocolError, match="exploded"):
            kit.transport.get_status("task_u")

    @pytest.mark.parametrize("code", [429, 502, 503, 504])
    def test_reads_are_retried(self, kit: Kit, server: FaultServer, code: int) -> None:
        """A read after 429/502/503/504 is retried with backoff and then succeeds."""
        server.add_task("task_r", status="paused")
        server.script(Reply.error(code, "again"))
        assert kit.transport.get_status("task_r") is TaskStatus.PAUSED
        assert kit.sleeps == [0.5]

    def test_503_retry_after_is_honoured(self, kit: Kit, server: FaultServer) -> None:
        """503 with Retry-After: 2, then 503 again, then success: waits 2 s twice."""
        server.add_task("task_r")
        server.script(*[Reply.error(503, "busy", retry_after="2")] * 2)
        assert kit.transport.get_status("task_r") is TaskStatus.RUNNING
        assert kit.sleeps == [2.0, 2.0]

    def test_500_is_not_retried(self, kit: Kit, server: FaultServer) -> None:
        """A plain 500 is not in the retry set: one request, ServerError."""
        server.add_task("task_r")
        server.script(Reply.error(500, "boom"))
        with pytest.raises(ServerError):
            kit.transport.get_status("task_r")
        assert len(server.requests) == 1

    def test_a_refresh_reconciles_remote_changes(self, kit: Kit, server: FaultServer) -> None:
        """The remote finished with 5 steps: refresh applies finish (remote) and the steps."""
        run = kit.create("x")
        server.tasks[run.id].status = TaskStatus.FINISHED
        server.tasks[run.id].steps = 5
        run.refresh()
        assert (run.status, run.steps) == (TaskStatus.FINISHED, 5)
        assert run.task.history[-1].origin == "remote"


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class TestConnectionRefused:
    @pytest.mark.parametrize("side", ["sync", "async"])
    def test_reads_are_retried_then_fail(self, side: str, closed_port: int) -> None:
        """Connection refused: a read is retried (4 attempts), then ConnectionFailed."""
        for kit in make_kit(side, f"http://127.0.0.1:{closed_port}", KEY):
            with pytest.raises(ConnectionFailed) as caught:
                kit.transport.get_status("task_1")
            assert caught.value.may_have_reached_server is False
            assert kit.sleeps == [0.5, 1.0, 2.0]

    @pytest.mark.parametrize("side", ["sync", "async"])
    def test_writes_are_retried_then_fail(self, side: str, closed_port: int) -> None:
        """Connection refused is safe to retry for a write too; then ConnectionFailed."""
        for kit in make_kit(side, f"http://127.0.0.1:{closed_port}", KEY):
            with pytest.raises(ConnectionFailed):
                kit.transport.push("task_1", Action.PAUSE)
            assert len(kit.sleeps) == 3


HOSTILE_IDS = [".", "..", "...", "a?b=c", "a&task_id=other", "../../tasks", "x/status", "a#frag",
               "%2e%2e", "é/?"]  # fmt: skip


class TestTaskIdEncoding:
    @pytest.mark.parametrize("task_id", HOSTILE_IDS)
    def test_an_id_cannot_change_the_push_query(
        self, kit: Kit, server: FaultServer, task_id: str
    ) -> None:
        """The server sees one task_id parameter equal to the id, on the right path."""
        server.add_task(task_id)
        kit.transport.push(task_id, Action.PAUSE)
        request = server.requests[-1]
        assert request.path == "/api/v1/pause-task"
        assert request.query == {"task_id": [task_id]}
        assert server.status_of(task_id) is TaskStatus.PAUSED

    @pytest.mark.parametrize("task_id", HOSTILE_IDS)
    def test_an_id_cannot_change_the_path(
        self, kit: Kit, server: FaultServer, task_id: str
    ) -> None:
        """GET /task/{id}: the id is one percent-encoded path segment, with no query."""
        server.add_task(task_id, status="paused")
        assert kit.transport.get_status(task_id) is TaskStatus.PAUSED
        request = server.requests[-1]
        assert request.query == {}
        assert "?" not in request.request_line.split()[1]
        assert request.path.count("/") == 5


class TestSecrets:
    def test_the_key_never_shows(
        self, kit: Kit, server: FaultServer, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Through faults, retries and errors the key is in no log line, message or repr."""
        caplog.set_level(logging.DEBUG)
        run = kit.create("x")
        server.script(
            Reply.error(429, KEY, retry_after="1"), Reply.error(500, f"echo {KEY}"), Reply.drop()
        )
        errors: list[BaseException] = []
        for call in (run.pause, run.refresh, run.resume):
            try:
                call()
            except Exception as error:
                errors.append(error)
        assert errors
        texts = [caplog.text, repr(kit.transport), repr(run)]
        texts += [f"{e!s} {e!r} {e.args!r}" for e in errors]
        assert not [t for t in texts if KEY in t]

    def test_a_wrong_key_is_an_auth_error(self, server: FaultServer) -> None:
        """The server answers 401 to another key: AuthError, and the key is not in it."""
        for kit in make_kit("sync", server.base_url, key="wrong-key-123"):
            with pytest.raises(AuthError) as caught:
                kit.transport.get_status("task_1")
            assert "wrong-key-123" not in str(caught.value)


DEEP = b"[" * 100_000 + b"]" * 100_000
"""A JSON value nested 100,000 levels deep (Python's own parser gives up with RecursionError)."""


def view_of(task_id: str, **change: Any) -> dict[str, Any]:
    """A v1 task view of a running task, with ``change`` applied."""
    return {"id": task_id, "status": "running", "steps": [], **change}


class TestHostileAnswers:
    def test_a_deep_answer_to_a_pause_that_took_effect(self, kit: Kit, server: FaultServer) -> None:
        """The remote paused and answered 200 with 100,000-deep JSON: the read-back runs and
        the local task is paused too."""
        run = kit.create("x")
        server.script(Reply.raw(DEEP, path="/api/v1/pause-task", apply=True))
        assert run.pause() is True
        assert run.status is TaskStatus.PAUSED is server.status_of(run.id)
        assert run.task.history[-1].origin == "remote"

    def test_a_deep_answer_to_a_pause_that_did_not(self, kit: Kit, server: FaultServer) -> None:
        """The same answer without effect: ProtocolError, local unchanged, remote running."""
        run = kit.create("x")
        before = run.task.to_dict()
        server.script(Reply.raw(DEEP, path="/api/v1/pause-task"))
        with pytest.raises(ProtocolError):
            run.pause()
        assert run.task.to_dict() == before

    def test_an_accepted_stop_whose_status_read_is_hostile(
        self, kit: Kit, server: FaultServer
    ) -> None:
        """stop answered 200, the status read after it chokes: the stop is committed."""
        run = kit.create("x")
        server.script(Reply.raw(DEEP, path=f"/api/v1/task/{run.id}/status"))
        assert run.stop() is True
        assert run.status is TaskStatus.STOPPED is server.status_of(run.id)

    @pytest.mark.parametrize(
        "change",
        [{"created_at": "0001-01-01T00:00:00+01:00"}, {"finished_at": "9999-12-31T23:59:59-01:00"},
         {"steps": "x" * 10}, {"metadata": [1]}],
        ids=["created-before-utc", "finished-after-utc", "bad-steps", "bad-metadata"],
    )  # fmt: skip
    def test_create_never_loses_the_id(
        self, kit: Kit, server: FaultServer, change: dict[str, Any]
    ) -> None:
        """run-task worked, the view read back is unreadable: the task comes back, with its id."""
        server.script(Reply.json(view_of("task_0001", **change), path="/api/v1/task/"))
        run = kit.create("x")
        assert (run.id, run.status) == ("task_0001", TaskStatus.CREATED)
        assert server.status_of(run.id) is TaskStatus.RUNNING

    @pytest.mark.parametrize(
        ("reply", "error"),
        [(Reply.raw(DEEP), ProtocolError),
         (Reply.raw(b'{"detail": ' + DEEP + b"}", 500), ServerError),
         (Reply.raw(b'{"detail": ' + DEEP + b"}", 409), ActionRefused),
         (Reply.error(429, "x", retry_after="Thu, 01 Jan 99999999999999999999 00:00:00 GMT"),
          RateLimited),
         (Reply.json(view_of("t", created_at="0001-01-01T00:00:00+01:00")), ProtocolError),
         (Reply.json({"detail": [{"loc": None, "msg": "x"}]}, 422), ValidationFailed),
         (Reply.json({"detail": [{"loc": 7, "msg": 7}]}, 422), ValidationFailed),
         (Reply.raw(b'{"id": "t", "status": "running", "steps": ' + b"9" * 5000 + b"}"),
          ProtocolError),
         (Reply.raw(b'{"id": "t", "status": "running", "steps": 1e400}'), ProtocolError),
         (Reply.raw(b"\xff\xfe\xfa"), ProtocolError)],
        ids=["deep-200", "deep-detail-500", "deep-detail-409", "year-of-20-digits",
             "date-before-utc", "loc-null", "loc-number", "huge-number", "infinite",
             "not-utf8"],
    )  # fmt: skip
    def test_any_answer_is_a_typed_error(
        self, kit: Kit, server: FaultServer, reply: Reply, error: type[TransportError]
    ) -> None:
        """Every hostile read ends as that TransportError subclass; the local task is unchanged."""
        run = kit.create("x")
        before = run.task.to_dict()
        server.script(*[attrs.evolve(reply, path="/api/v1/task/")] * 4)
        with pytest.raises(error) as caught:
            run.refresh()
        assert type(caught.value) is error
        assert run.task.to_dict() == before


TRICKLED = json.dumps(view_of("task_0001", output="x" * 1000)).encode()
"""A view of over 1,000 bytes: trickled at 0.2 s a byte it takes over 200 s."""


class TestDeadlines:
    @pytest.mark.parametrize("head", [False, True], ids=["body", "head-and-body"])
    def test_wait_is_a_hard_bound_against_a_trickle(
        self, kit: Kit, server: FaultServer, head: bool
    ) -> None:
        """wait(timeout=1) against a server sending one byte every 0.2 s: WaitTimeout within a
        bound the unbounded read breaks by far (it would take over 200 s)."""
        run = kit.create("x")
        server.script(*[Reply.trickle(TRICKLED, headers=head, path="/api/v1/task/")] * 20)
        started = time.monotonic()
        with pytest.raises(WaitTimeout):
            run.wait(timeout=1, interval=0)
        assert time.monotonic() - started < 15
        assert run.status is TaskStatus.RUNNING

    def test_every_call_has_a_deadline(self, server: FaultServer, side: str) -> None:
        """call_timeout=1: a status read against a trickle is a TransportTimeout within bound."""
        server.add_task("task_t")
        server.script(Reply.trickle(TRICKLED, path="/api/v1/task/"))
        for kit in make_kit(side, server.base_url, KEY, call_timeout=1):
            started = time.monotonic()
            with pytest.raises(TransportTimeout):
                kit.transport.get_task("task_t")
            assert time.monotonic() - started < 15


class TestSizeCap:
    def test_a_declared_huge_answer_is_refused_unread(self, kit: Kit, server: FaultServer) -> None:
        """Content-Length: 400 MiB on a status read: ProtocolError at once (no wait for it)."""
        server.add_task("task_h")
        server.script(Reply.wire(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: 419430400\r\n\r\n\"run"))  # fmt: skip
        with pytest.raises(ProtocolError, match="larger than 10485760 bytes"):
            kit.transport.get_status("task_h")

    def test_an_endless_answer_stops_at_the_cap(self, kit: Kit, server: FaultServer) -> None:
        """A chunked body that never ends: ProtocolError once 10 MiB (the default) are read."""
        server.add_task("task_e")
        server.script(Reply.endless())
        with pytest.raises(ProtocolError, match="larger than"):
            kit.transport.get_status("task_e")
        server.release()

    def test_the_cap_is_configurable(self, server: FaultServer, side: str) -> None:
        """max_response_bytes=100: a view of 1 KiB is refused."""
        server.add_task("task_c", text="x" * 1024)
        for kit in make_kit(side, server.base_url, KEY, max_response_bytes=100):
            with pytest.raises(ProtocolError, match="larger than 100 bytes"):
                kit.transport.get_task("task_c")


class TestClosed:
    def test_a_closed_transport_is_never_retried(self, kit: Kit, server: FaultServer) -> None:
        """A read after close(): TransportClosed at once, no request, no retry, no sleep."""
        server.add_task("task_1")
        kit.transport.close()
        with pytest.raises(TransportClosed):
            kit.transport.get_status("task_1")
        assert (server.requests, kit.sleeps) == ([], [])


class TestEchoedKey:
    @pytest.mark.parametrize(
        "wire",
        [b"HTTP/1.1 599 " + KEY.encode() + b"\r\nContent-Type: text/html; k=" + KEY.encode()
         + b"\r\nContent-Length: 2\r\n\r\n{}",
         b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; echo=" + KEY.encode()
         + b"\r\nContent-Length: 2\r\n\r\n{}",
         b"HTTP/1.1 2OO " + KEY.encode() + b"\r\n\r\n",
         b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n"
         b'{"id": "' + KEY.encode() + b'", "status": "' + KEY.encode() + b'"}'],
        ids=["status-line", "content-type", "malformed-status-line", "body"],
    )  # fmt: skip
    def test_a_key_echoed_by_a_proxy_is_in_no_message(
        self, kit: Kit, server: FaultServer, wire: bytes, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A proxy echoing the key into the status line, a header or the body: every message,
        repr, detail and log line is free of it."""
        caplog.set_level(logging.DEBUG)
        server.add_task("task_k")
        server.script(*[Reply.wire(wire)] * 4)
        with pytest.raises(TransportError) as caught:
            kit.transport.get_task("task_k")
        error = caught.value
        assert KEY not in f"{error!s} {error!r} {error.args!r} {error.detail!r} {caplog.text}"
