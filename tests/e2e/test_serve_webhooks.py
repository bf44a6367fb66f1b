"""``tasklife serve --webhook-url`` as a real process sending to a real receiver on 127.0.0.1.

The crash test: transitions are acknowledged while the receiver fails part of the deliveries,
the server is killed with SIGKILL (no shutdown code runs) and restarted on the same file; then
every acknowledged transition's event arrives (at least once, a task's events in order).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import attrs
import httpx
import pytest
from browser_use_sdk.lib.webhooks import verify_webhook_event_signature
from serve_kit import ServeProcess, free_port
from webhook_receiver import HANG, Delivery, Receiver, receiver, until

from tasklife.webhooks import StatusUpdateEvent, TestEvent, body_digest, verify

KEY = "e2e-webhook-key-3c9d"
SECRET = "whsec_SENTINEL_serve_e2e_41b7"


@attrs.define
class Server:
    """``tasklife serve`` with a webhook URL (its secret from ``TASKLIFE_WEBHOOK_SECRET``)."""

    db: Path
    log: Path
    url: str
    process: ServeProcess | None = None

    @property
    def base_url(self) -> str:
        assert self.process is not None
        return self.process.base_url

    def start(self, *extra: str) -> None:
        args = ("--db", str(self.db), "--step-seconds", "0", "--webhook-url", self.url, *extra)
        self.process = ServeProcess(KEY, args, self.log)
        self.process.start()

    def stop(self, how: signal.Signals = signal.SIGINT) -> int:
        assert self.process is not None
        assert self.process.process is not None
        self.process.process.send_signal(how)
        return self.process.process.wait(timeout=30)


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    with receiver() as state:
        yield state


@pytest.fixture
def server(tmp_path: Path, hooks: Receiver, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("TASKLIFE_WEBHOOK_SECRET", SECRET)
    server = Server(tmp_path / "serve.sqlite3", tmp_path / "serve.log", hooks.url)
    yield server
    if server.process is not None:
        server.process.stop()


def events(got: list[Delivery]) -> list[StatusUpdateEvent]:
    """The status updates received, each verified (and by the official SDK), first copies only."""
    seen: set[str] = set()
    out = []
    for delivery in got:
        event = verify(delivery.body, delivery.headers, SECRET)
        assert verify_webhook_event_signature(
            delivery.body.decode(), delivery.headers["X-Browser-Use-Signature"],
            delivery.headers["X-Browser-Use-Timestamp"], SECRET,
        ) is not None  # fmt: skip
        if isinstance(event, StatusUpdateEvent) and event.digest not in seen:
            seen.add(event.digest)
            out.append(event)
    return out


class TestServeSendsWebhooks:
    def test_test_event_then_each_transition(self, server: Server, hooks: Receiver) -> None:
        """A test event at start, then each transition with the task's metadata; no secret
        in the log."""
        server.start()
        first = hooks.wait_for(1)[0]
        assert isinstance(verify(first.body, first.headers, SECRET), TestEvent)
        with httpx.Client(
            base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"}
        ) as http:
            made = http.post("/api/v1/run-task", json={"task": "e2e", "metadata": {"k": "Zoë"}})
            task_id = made.json()["id"]
            for action in ("pause", "resume", "stop"):
                response = http.put(f"/api/v1/{action}-task", params={"task_id": task_id})
                assert response.status_code == 200
        got = events(hooks.wait_for(5))
        assert [(e.task_id, e.remote_status) for e in got] == [
            (task_id, "started"), (task_id, "paused"), (task_id, "started"), (task_id, "stopped"),
        ]  # fmt: skip
        assert {json.dumps(dict(e.metadata)) for e in got} == {json.dumps({"k": "Zoë"})}
        assert server.stop() == 0
        assert SECRET not in server.log.read_text()

    def test_failed_status_option(self, server: Server, hooks: Receiver) -> None:
        """``--webhook-failed-status failed`` sends a failed task as failed."""
        server.start("--webhook-failed-status", "failed")
        with httpx.Client(
            base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"}
        ) as http:
            task_id = http.post("/api/v1/run-task", json={"task": "e2e"}).json()["id"]
            failed = http.post(f"/emulator/v1/task/{task_id}/fail")
            assert failed.status_code == 200, failed.text
        got = hooks.wait_for(3)
        last = verify(got[-1].body, got[-1].headers, SECRET)
        assert isinstance(last, StatusUpdateEvent)
        assert last.remote_status == "failed"

    def test_a_hanging_receiver_does_not_hold_requests(
        self, server: Server, hooks: Receiver
    ) -> None:
        """While the receiver holds every POST unanswered, requests are answered at once."""
        hooks.default = HANG
        server.start()
        with httpx.Client(
            base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60
        ) as http:
            # The first run-task builds its route (slow on a loaded machine): not timed.
            task_id = http.post("/api/v1/run-task", json={"task": "e2e"}).json()["id"]
            assert hooks.held.wait(30), "the sender posted nothing"
            for action in ("pause", "resume", "pause", "resume", "stop"):
                # A request waiting for a delivery would wait out the sender's 10 s timeout.
                response = http.put(
                    f"/api/v1/{action}-task", params={"task_id": task_id}, timeout=8
                )
                assert response.status_code == 200
            assert hooks.got() == []  # every POST so far is still held
        hooks.release.set()
        assert server.stop() == 0

    def test_every_acknowledged_transition_survives_sigkill(
        self, server: Server, hooks: Receiver
    ) -> None:
        """Killed with events undelivered, restarted: every acknowledged event arrives, a
        task's events in order."""
        hooks.script = [200] * 6
        hooks.default = 503  # after the first six, every attempt fails until the restart
        server.start()
        acknowledged: dict[str, list[str]] = {}
        with httpx.Client(
            base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"}
        ) as http:
            for _ in range(4):
                task_id = http.post("/api/v1/run-task", json={"task": "crash"}).json()["id"]
                acknowledged[task_id] = ["started"]
            for _ in range(3):
                for task_id, sent in acknowledged.items():
                    for action, word in (("pause", "paused"), ("resume", "started")):
                        response = http.put(f"/api/v1/{action}-task", params={"task_id": task_id})
                        assert response.status_code == 200
                        sent.append(word)
        until(lambda: len(hooks.got()) >= 10, what="deliveries failing before the kill")
        assert server.stop(signal.SIGKILL) == -signal.SIGKILL
        delivered_before = len(events(hooks.got()))
        assert delivered_before < sum(map(len, acknowledged.values()))
        hooks.default = 200
        server.start()

        def all_arrived() -> bool:
            got = events(hooks.got())
            return all(
                [e.remote_status for e in got if e.task_id == task_id] == sent
                for task_id, sent in acknowledged.items()
            )

        until(all_arrived, what="every acknowledged event")
        assert server.stop() == 0
        digests = [body_digest(d.body) for d in hooks.got()]
        assert len(set(digests)) == sum(map(len, acknowledged.values())) + 2  # + 2 test events


class TestServeRefusesWebhookSettings:
    @pytest.mark.parametrize(
        ("args", "env_secret", "said"),
        [
            (["--webhook-url", "https://example.com/h"], None, "needs a secret"),
            (["--webhook-url", "https://example.com/h", "--webhook-secret", f" {SECRET}"], None,
             "whitespace around it"),
            (["--webhook-url", "https://example.com/h"], "", "webhook secret: is empty"),
            (["--webhook-url", "http://example.com/h", "--webhook-secret", SECRET], None,
             "plain http://"),
            (["--webhook-secret", SECRET], None, "needs --webhook-url"),
        ],
        ids=["no-secret", "padded", "empty-env", "http-off-loopback", "secret-alone"],
    )  # fmt: skip
    def test_refused_at_start(
        self, tmp_path: Path, args: list[str], env_secret: str | None, said: str
    ) -> None:
        """Unusable webhook settings: exit 2 and one line saying why, never the secret."""
        env = {**os.environ, "TASKLIFE_API_KEY": KEY}
        env.pop("TASKLIFE_WEBHOOK_SECRET", None)
        if env_secret is not None:
            env["TASKLIFE_WEBHOOK_SECRET"] = env_secret
        command = [sys.executable, "-m", "tasklife", "serve", "--port", str(free_port()),
                   "--db", str(tmp_path / "t.sqlite3"), *args]  # fmt: skip
        result = subprocess.run(
            command, check=False, capture_output=True, text=True, env=env, timeout=60
        )
        assert result.returncode == 2, result.stderr
        assert said in result.stderr
        assert SECRET not in result.stderr + result.stdout
