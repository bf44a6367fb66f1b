"""The v1 endpoints and their error shapes, over real loopback HTTP against a manual-mode server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tasklife import LIFECYCLE, Action, CannotResumeStoppedTask, InvalidTransition, TaskStatus
from tasklife.server.app import PUBLIC_PATHS
from tasklife.server.testing import LiveServer

from .conftest import Operation

NewTask = Callable[..., str]

SEED_422 = {
    "detail": [
        {"loc": ["query", "task_id"], "msg": "field required", "type": "value_error.missing"}
    ]
}
ACTIONS = ["pause-task", "resume-task", "stop-task"]
V1_VIEW_KEYS = {
    "id", "task", "output", "status", "created_at", "finished_at", "steps", "live_url",
    "browser_data", "user_uploaded_files", "output_files", "public_share_url", "metadata",
}  # fmt: skip


def act(client: httpx.Client, action: str, task_id: str) -> httpx.Response:
    return client.put(f"/api/v1/{action}", params={"task_id": task_id})


def create(client: httpx.Client, text: str = "t") -> str:
    response = client.post("/api/v1/run-task", json={"task": text})
    assert response.status_code == 200, response.text
    task_id: str = response.json()["id"]
    return task_id


def status_of(client: httpx.Client, task_id: str) -> Any:
    response = client.get(f"/api/v1/task/{task_id}/status")
    assert response.status_code == 200, response.text
    return response.json()


class TestRunTask:
    def test_returns_a_task_id(self, client: httpx.Client) -> None:
        """run-task answers 200 {"id": "task_..."} and nothing else."""
        response = client.post("/api/v1/run-task", json={"task": "book a table"})
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"id"}
        assert body["id"].startswith("task_")

    def test_new_task_is_running(self, client: httpx.Client, new_task: NewTask) -> None:
        """A new task starts running at once, with no steps yet."""
        task_id = new_task()
        view = client.get(f"/api/v1/task/{task_id}").json()
        assert (view["status"], view["steps"]) == ("running", [])

    def test_missing_task_text_is_the_v1_422(self, client: httpx.Client) -> None:
        """A body without "task" is 422 in the pydantic-v1 shape."""
        response = client.post("/api/v1/run-task", json={"llm_model": "gpt-4o"})
        assert response.status_code == 422
        assert response.json() == {
            "detail": [
                {"loc": ["body", "task"], "msg": "field required", "type": "value_error.missing"}
            ]
        }

    @pytest.mark.parametrize(
        ("body", "loc", "kind"),
        [
            ({"task": 3}, ["body", "task"], "type_error.str"),
            ({"task": ""}, ["body", "task"], "value_error.any_str.min_length"),
            ({"task": "t", "max_agent_steps": 201}, ["body", "max_agent_steps"],
             "value_error.number.not_le"),
            ({"task": "t", "max_agent_steps": 0}, ["body", "max_agent_steps"],
             "value_error.number.not_ge"),
            ({"task": "t", "metadata": {str(i): "v" for i in range(11)}}, ["body", "metadata"],
             "value_error.list.max_items"),
            ({"task": "t", "metadata": {"k": 1}}, ["body", "metadata", "k"], "type_error.str"),
        ],
        ids=["task-not-str", "task-empty", "steps-over-200", "steps-zero", "metadata-11-pairs",
             "metadata-not-str"],
    )  # fmt: skip
    def test_invalid_body_is_a_v1_422(
        self, client: httpx.Client, body: dict[str, Any], loc: list[str], kind: str
    ) -> None:
        """Each invalid field is reported at its location with a v1 error type."""
        response = client.post("/api/v1/run-task", json=body)
        assert response.status_code == 422
        [error] = response.json()["detail"]
        assert (error["loc"], error["type"]) == (loc, kind)

    def test_malformed_json_is_a_422(self, client: httpx.Client) -> None:
        """A body that is not JSON is 422 value_error.jsondecode, not a 500."""
        response = client.post(
            "/api/v1/run-task", content=b"{nope", headers={"content-type": "application/json"}
        )
        assert response.status_code == 422
        assert response.json()["detail"][0]["type"] == "value_error.jsondecode"

    def test_oversized_body_is_a_413(self, client: httpx.Client) -> None:
        """A body over the limit (64 KiB in these tests) is refused with 413."""
        response = client.post("/api/v1/run-task", json={"task": "x" * 70_000})
        assert response.status_code == 413

    def test_oversized_chunked_body_is_a_413(self, client: httpx.Client) -> None:
        """A streamed body without Content-Length is counted and refused past the limit."""

        def chunks() -> Any:
            yield b'{"task": "'
            for _ in range(100):
                yield b"x" * 1024
            yield b'"}'

        response = client.post(
            "/api/v1/run-task", content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413

    def test_metadata_and_model_are_kept(self, client: httpx.Client, new_task: NewTask) -> None:
        """metadata, llm_model and max_agent_steps appear in the task view."""
        task_id = new_task(metadata={"order": "42"}, llm_model="gpt-4.1", max_agent_steps=9)
        view = client.get(f"/api/v1/task/{task_id}").json()
        assert (view["metadata"], view["llm_model"], view["max_agent_steps"]) == (
            {"order": "42"},
            "gpt-4.1",
            9,
        )


class TestActions:
    @pytest.mark.parametrize(
        ("actions", "status"),
        [
            (["pause-task"], "paused"),
            (["pause-task", "resume-task"], "running"),
            (["stop-task"], "stopped"),
            (["pause-task", "stop-task"], "stopped"),
        ],
        ids=["pause", "pause-resume", "stop", "pause-stop"],
    )
    def test_action_answers_empty_object(
        self, client: httpx.Client, new_task: NewTask, actions: list[str], status: str
    ) -> None:
        """Each accepted action answers 200 {} and moves the task."""
        task_id = new_task()
        for action in actions:
            response = act(client, action, task_id)
            assert (response.status_code, response.json()) == (200, {})
        assert status_of(client, task_id) == status

    def test_resume_of_stopped_task_is_409_with_domain_message(
        self, client: httpx.Client, new_task: NewTask
    ) -> None:
        """Resuming a stopped task is 409 carrying exactly the domain error's message."""
        task_id = new_task()
        act(client, "stop-task", task_id)
        response = act(client, "resume-task", task_id)
        expected = CannotResumeStoppedTask(
            task_id,
            TaskStatus.STOPPED,
            Action.RESUME,
            LIFECYCLE.allowed_actions(TaskStatus.STOPPED),
        )
        assert (response.status_code, response.json()) == (409, {"detail": str(expected)})

    def test_pause_of_finished_task_is_409(self, client: httpx.Client, new_task: NewTask) -> None:
        """Pausing a finished task is 409 with the domain's InvalidTransition message."""
        task_id = new_task()
        client.post(f"/emulator/v1/task/{task_id}/finish")
        response = act(client, "pause-task", task_id)
        expected = InvalidTransition(task_id, TaskStatus.FINISHED, Action.PAUSE, ())
        assert (response.status_code, response.json()) == (409, {"detail": str(expected)})

    def test_refused_action_changes_nothing(self, client: httpx.Client, new_task: NewTask) -> None:
        """A 409 leaves status and history exactly as they were."""
        task_id = new_task()
        before = client.get(f"/emulator/v1/task/{task_id}/history").json()
        assert act(client, "resume-task", task_id).status_code == 409
        assert client.get(f"/emulator/v1/task/{task_id}/history").json() == before

    @pytest.mark.parametrize("terminal", ["stop", "finish", "fail"])
    def test_stop_on_terminal_task_is_200_and_a_no_op(
        self, client: httpx.Client, new_task: NewTask, terminal: str
    ) -> None:
        """stop on a stopped, finished or failed task answers 200 {} and records nothing."""
        task_id = new_task()
        if terminal == "stop":
            act(client, "stop-task", task_id)
        else:
            client.post(f"/emulator/v1/task/{task_id}/{terminal}")
        before = client.get(f"/emulator/v1/task/{task_id}/history").json()
        response = act(client, "stop-task", task_id)
        assert (response.status_code, response.json()) == (200, {})
        assert client.get(f"/emulator/v1/task/{task_id}/history").json() == before

    @pytest.mark.parametrize("action", ACTIONS)
    def test_missing_task_id_is_the_seed_422(self, client: httpx.Client, action: str) -> None:
        """No task_id answers exactly the seed's pydantic-v1 body."""
        response = client.put(f"/api/v1/{action}")
        assert (response.status_code, response.json()) == (422, SEED_422)

    @pytest.mark.parametrize(
        "task_id", ["", "a b", "x" * 257, "tab\there", "nul\x00"], ids=["empty", "space",
                                                                     "too-long", "tab", "nul"]
    )  # fmt: skip
    def test_invalid_task_id_is_a_422(self, client: httpx.Client, task_id: str) -> None:
        """An id that is no valid task id is 422 at ["query", "task_id"], never a 500."""
        response = act(client, "pause-task", task_id)
        assert response.status_code == 422
        [error] = response.json()["detail"]
        assert (error["loc"], error["type"]) == (["query", "task_id"], "value_error")

    @pytest.mark.parametrize("action", ACTIONS)
    def test_unknown_task_is_404(self, client: httpx.Client, action: str) -> None:
        """An unknown id is 404 {"detail": "Task not found"}."""
        response = act(client, action, "task_doesnotexist")
        assert (response.status_code, response.json()) == (404, {"detail": "Task not found"})

    @pytest.mark.parametrize("action", ACTIONS)
    def test_another_keys_task_is_404(
        self, other_client: httpx.Client, new_task: NewTask, action: str
    ) -> None:
        """Another key's task looks exactly like a missing one."""
        response = act(other_client, action, new_task())
        assert (response.status_code, response.json()) == (404, {"detail": "Task not found"})


ENDPOINTS = [
    ("PUT", "/api/v1/pause-task?task_id=task_x"),
    ("PUT", "/api/v1/resume-task?task_id=task_x"),
    ("PUT", "/api/v1/stop-task?task_id=task_x"),
    ("PUT", "/api/v1/pause-task"),
    ("POST", "/api/v1/run-task"),
    ("GET", "/api/v1/task/task_x"),
    ("GET", "/api/v1/task/task_x/status"),
    ("GET", "/api/v1/tasks"),
    ("POST", "/emulator/v1/task/task_x/advance"),
    ("POST", "/emulator/v1/task/task_x/finish"),
    ("POST", "/emulator/v1/task/task_x/fail"),
    ("GET", "/emulator/v1/task/task_x/history"),
]
FAMILIES = [ENDPOINTS[i] for i in (0, 3, 4, 5, 7, 8, 11)]  # one endpoint of each kind
BAD_AUTH = {
    "missing": None,
    "blank-bearer": "Bearer",
    "wrong-key": "Bearer not-the-key",
    "wrong-scheme": "Basic {key}",
    "key-without-scheme": "{key}",
    "key-prefix": "Bearer {key_prefix}",
    "two-keys": "Bearer {key} {key}",
}


class TestAuth:
    def test_every_route_needs_a_key(
        self, shared_server: LiveServer, operations: list[Operation]
    ) -> None:
        """Every operation the schema lists answers 401 without a key, but the public ones."""
        assert len(operations) >= len(ENDPOINTS) - 1  # (pause-task is listed twice above)
        with shared_server.client(None) as http:
            for method, path, _ in operations:
                url = path.replace("{task_id}", "task_x")
                response = http.request(method, url, params={"task_id": "task_x"})
                assert response.status_code == (200 if path in PUBLIC_PATHS else 401), url
                if response.status_code == 401:
                    assert response.json() == {"detail": "Missing or invalid API key"}
                    assert response.headers["www-authenticate"] == "Bearer"

    @pytest.mark.parametrize(
        ("header", "endpoint"),
        list(zip(BAD_AUTH.values(), FAMILIES, strict=True)),
        ids=[f"{name}-{m} {p}" for name, (m, p) in zip(BAD_AUTH, FAMILIES, strict=True)],
    )
    def test_bad_key_is_401(
        self,
        shared_server: LiveServer,
        api_key: str,
        header: str | None,
        endpoint: tuple[str, str],
    ) -> None:
        """Each kind of bad bearer header, each on another endpoint family, answers 401.

        Every header shape on every route is the guard's property (tests/unit/test_server_guard.py);
        that every route is behind the guard is test_every_route_needs_a_key.
        """
        method, path = endpoint
        value = None if header is None else header.format(key=api_key, key_prefix=api_key[:-1])
        headers = {} if value is None else {"Authorization": value}
        with shared_server.client(None) as http:
            response = http.request(method, path, headers=headers, json={"task": "t"})
        assert response.status_code == 401
        assert response.json() == {"detail": "Missing or invalid API key"}
        assert response.headers["www-authenticate"] == "Bearer"

    def test_ping_needs_no_key(self, shared_server: LiveServer) -> None:
        """/api/v1/ping answers 200 without a key."""
        with shared_server.client(None) as http:
            response = http.get("/api/v1/ping")
        assert (response.status_code, response.json()) == (200, {"status": "ok"})

    def test_second_key_is_accepted(self, other_client: httpx.Client) -> None:
        """Every configured key is accepted."""
        response = other_client.post("/api/v1/run-task", json={"task": "t"})
        assert response.status_code == 200

    def test_key_is_not_stored(
        self, live_server: LiveServer, live_client: httpx.Client, api_key: str, tmp_path: Any
    ) -> None:
        """The SQLite files (database and WAL) hold a fingerprint of the key, never the key."""
        assert live_client.post("/api/v1/run-task", json={"task": "t"}).status_code == 200
        live_server.stop()
        assert isinstance(live_server.db, Path)  # a SQLite file
        files = [p for p in tmp_path.iterdir() if p.name.startswith(live_server.db.name)]
        assert files
        assert all(api_key.encode() not in p.read_bytes() for p in files)


class TestTaskView:
    def test_has_every_v1_field(self, client: httpx.Client, new_task: NewTask) -> None:
        """The view holds every field of the v1 task view."""
        view = client.get(f"/api/v1/task/{new_task()}").json()
        assert set(view) >= V1_VIEW_KEYS

    def test_steps_are_v1_step_objects(self, client: httpx.Client, new_task: NewTask) -> None:
        """Each step taken is a {id, step, evaluation_previous_goal, next_goal, url} object."""
        task_id = new_task()
        client.post(f"/emulator/v1/task/{task_id}/advance", params={"steps": 3})
        steps = client.get(f"/api/v1/task/{task_id}").json()["steps"]
        assert [s["step"] for s in steps] == [1, 2, 3]
        assert all(
            set(s) == {"id", "step", "evaluation_previous_goal", "next_goal", "url"} for s in steps
        )

    def test_finished_at_is_set_when_terminal(
        self, client: httpx.Client, new_task: NewTask
    ) -> None:
        """finished_at is null while the task runs and set once it is stopped."""
        task_id = new_task()
        assert client.get(f"/api/v1/task/{task_id}").json()["finished_at"] is None
        act(client, "stop-task", task_id)
        assert client.get(f"/api/v1/task/{task_id}").json()["finished_at"] is not None

    def test_unknown_task_is_404(self, client: httpx.Client) -> None:
        """An unknown id is 404 Task not found."""
        response = client.get("/api/v1/task/task_nope")
        assert (response.status_code, response.json()) == (404, {"detail": "Task not found"})

    def test_trailing_slash_is_404_not_a_redirect(self, client: httpx.Client) -> None:
        """A path with a trailing slash is a plain 404, never a 307 detour."""
        response = client.get("/api/v1/tasks/")
        assert response.status_code == 404

    def test_invalid_path_id_is_a_422(self, client: httpx.Client) -> None:
        """An invalid id in the path is 422 at ["path", "task_id"]."""
        response = client.get("/api/v1/task/a%20b")
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["path", "task_id"]


class TestStatus:
    def test_is_a_bare_json_string(self, client: httpx.Client, new_task: NewTask) -> None:
        """The status endpoint answers a bare JSON string."""
        response = client.get(f"/api/v1/task/{new_task()}/status")
        assert (response.status_code, response.text) == (200, '"running"')

    def test_unknown_task_is_404(self, client: httpx.Client) -> None:
        """An unknown id is 404 Task not found."""
        response = client.get("/api/v1/task/task_nope/status")
        assert (response.status_code, response.json()) == (404, {"detail": "Task not found"})

    def test_another_keys_task_is_404(self, other_client: httpx.Client, new_task: NewTask) -> None:
        """Another key's task is 404 here too."""
        assert other_client.get(f"/api/v1/task/{new_task()}/status").status_code == 404


class TestTaskList:
    def test_newest_first_with_totals(self, live_client: httpx.Client) -> None:
        """Tasks come newest first, with total_count and total_pages."""
        ids = [create(live_client, f"task {i}") for i in range(5)]
        body = live_client.get("/api/v1/tasks", params={"page": 1, "limit": 2}).json()
        assert [t["id"] for t in body["tasks"]] == ids[::-1][:2]
        assert (body["total_count"], body["total_pages"], body["page"], body["limit"]) == (
            5,
            3,
            1,
            2,
        )

    def test_last_page(self, live_client: httpx.Client) -> None:
        """The last page holds the oldest tasks."""
        ids = [create(live_client, f"task {i}") for i in range(5)]
        body = live_client.get("/api/v1/tasks", params={"page": 3, "limit": 2}).json()
        assert [t["id"] for t in body["tasks"]] == [ids[0]]

    def test_page_past_the_end_is_empty(self, live_client: httpx.Client) -> None:
        """A page past the end is an empty list, not an error."""
        create(live_client)
        body = live_client.get("/api/v1/tasks", params={"page": 10**12, "limit": 100}).json()
        assert (body["tasks"], body["total_count"]) == ([], 1)

    def test_items_have_the_v1_fields(self, live_client: httpx.Client) -> None:
        """Each item holds exactly the v1 list fields."""
        create(live_client)
        [item] = live_client.get("/api/v1/tasks").json()["tasks"]
        expected = {"id", "task", "output", "status", "created_at", "finished_at", "live_url"}
        assert set(item) == expected

    def test_only_own_tasks(
        self, live_client: httpx.Client, live_server: LiveServer, other_key: str
    ) -> None:
        """A key lists only its own tasks."""
        create(live_client)
        with live_server.client(other_key) as other:
            assert other.get("/api/v1/tasks").json()["total_count"] == 0

    @pytest.mark.parametrize(
        ("params", "loc", "kind"),
        [
            ({"limit": 101}, ["query", "limit"], "value_error.number.not_le"),
            ({"limit": 0}, ["query", "limit"], "value_error.number.not_ge"),
            ({"page": 0}, ["query", "page"], "value_error.number.not_ge"),
            ({"page": "one"}, ["query", "page"], "type_error.integer"),
        ],
        ids=["limit-101", "limit-0", "page-0", "page-not-int"],
    )
    def test_bad_paging_is_a_v1_422(
        self, client: httpx.Client, params: dict[str, Any], loc: list[str], kind: str
    ) -> None:
        """limit must be 1..100 and page at least 1."""
        response = client.get("/api/v1/tasks", params=params)
        assert response.status_code == 422
        [error] = response.json()["detail"]
        assert (error["loc"], error["type"]) == (loc, kind)


class TestEmulator:
    def test_advance_counts_steps(self, client: httpx.Client, new_task: NewTask) -> None:
        """advance?steps=N adds N steps to a running task."""
        task_id = new_task()
        response = client.post(f"/emulator/v1/task/{task_id}/advance", params={"steps": 4})
        assert response.json() == {"id": task_id, "status": "running", "steps": 4}

    def test_advance_of_paused_task_is_409(self, client: httpx.Client, new_task: NewTask) -> None:
        """A paused task takes no steps: 409 with the domain's TaskNotRunning message."""
        task_id = new_task()
        act(client, "pause-task", task_id)
        response = client.post(f"/emulator/v1/task/{task_id}/advance")
        assert response.status_code == 409
        assert "steps are only taken while a task is running" in response.json()["detail"]

    def test_advance_finishes_at_the_step_limit(
        self, client: httpx.Client, new_task: NewTask
    ) -> None:
        """Reaching max_agent_steps finishes the task, with an output and no extra steps."""
        task_id = new_task(max_agent_steps=3)
        response = client.post(f"/emulator/v1/task/{task_id}/advance", params={"steps": 10})
        assert response.json() == {"id": task_id, "status": "finished", "steps": 3}
        assert client.get(f"/api/v1/task/{task_id}").json()["output"]

    def test_fail_records_the_reason(self, client: httpx.Client, new_task: NewTask) -> None:
        """fail?reason= moves the task to failed and records the reason, origin remote."""
        task_id = new_task()
        client.post(f"/emulator/v1/task/{task_id}/fail", params={"reason": "captcha"})
        last = client.get(f"/emulator/v1/task/{task_id}/history").json()["history"][-1]
        assert (last["action"], last["reason"], last["origin"]) == ("fail", "captcha", "remote")

    def test_finish_of_paused_task_is_409(self, client: httpx.Client, new_task: NewTask) -> None:
        """Only a running task can finish."""
        task_id = new_task()
        act(client, "pause-task", task_id)
        assert client.post(f"/emulator/v1/task/{task_id}/finish").status_code == 409

    def test_history_lists_every_transition(self, client: httpx.Client, new_task: NewTask) -> None:
        """The history endpoint shows start (remote) and each client action (local)."""
        task_id = new_task()
        for action in ["pause-task", "resume-task", "stop-task"]:
            act(client, action, task_id)
        body = client.get(f"/emulator/v1/task/{task_id}/history").json()
        assert [(r["action"], r["origin"]) for r in body["history"]] == [
            ("start", "remote"),
            ("pause", "local"),
            ("resume", "local"),
            ("stop", "local"),
        ]
        assert body["version"] == 4

    def test_another_keys_task_is_404(self, other_client: httpx.Client, new_task: NewTask) -> None:
        """The emulator endpoints respect ownership too."""
        response = other_client.post(f"/emulator/v1/task/{new_task()}/finish")
        assert response.status_code == 404


NASTY = [
    ("PUT", "/api/v1/pause-task?task_id=%F0%9F%92%A9"),
    ("PUT", "/api/v1/pause-task?task_id=a&task_id=b"),
    ("PUT", "/api/v1/pause-task?task_id=%ff%fe"),
    ("GET", "/api/v1/task/%2e%2e"),
    ("GET", "/api/v1/task/" + "y" * 5000),
    ("GET", "/api/v1/tasks?page=" + "9" * 5000),
    ("GET", "/api/v1/tasks?limit=1e3"),
    ("POST", "/emulator/v1/task/task_x/advance?steps=-1"),
    ("POST", "/emulator/v1/task/task_x/fail?reason=" + "r" * 2000),
    ("PUT", "/api/v1/stop-task?task_id=task_%00"),
]


class TestNoServerErrors:
    @pytest.mark.parametrize(("method", "path"), NASTY, ids=[f"{m}-{i}" for i, (m, _) in
                                                               enumerate(NASTY)])  # fmt: skip
    def test_odd_input_is_never_a_500(self, client: httpx.Client, method: str, path: str) -> None:
        """Odd ids, numbers and encodings get a 4xx answer, never a 500."""
        response = client.request(method, path)
        assert 400 <= response.status_code < 500, response.text

    def test_odd_key_is_a_401(self, shared_server: LiveServer) -> None:
        """A key with non-ASCII bytes is a plain 401."""
        with shared_server.client(None) as http:
            response = http.get("/api/v1/tasks", headers={b"Authorization": b"Bearer \xff\xfe"})
        assert response.status_code == 401
