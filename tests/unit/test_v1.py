"""The v1 contract: errors, records (readers and writers), request specs and answer mapping."""

from __future__ import annotations

import contextlib
import json
import pickle
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import json_values, task_ids, tasks

from tasklife import Action, InvalidArgument, InvalidTaskData, Task, TaskLifeError, TaskStatus, v1
from tasklife import transports as transports_package

SUBCLASSES = [
    v1.AuthError, v1.TaskNotFound, v1.ActionRefused, v1.ValidationFailed, v1.RateLimited,
    v1.ServerError, v1.TransportTimeout, v1.ConnectionFailed, v1.TransportClosed, v1.ProtocolError,
]  # fmt: skip

VIEW: dict[str, Any] = {
    "id": "task_1", "task": "t", "output": None, "status": "running",
    "created_at": "2026-01-02T03:04:05Z", "finished_at": None,
    "steps": [{"id": "s1", "step": 1, "evaluation_previous_goal": "e", "next_goal": "n",
               "url": "https://x"}],
    "live_url": "https://live", "browser_data": None, "user_uploaded_files": [],
    "output_files": ["a.txt"], "public_share_url": None, "metadata": {"k": "v"},
    "something_new": 1,
}  # fmt: skip

SERVED: dict[str, Any] = {
    "id": "task_7", "task": "find a flight", "output": None, "status": "finished",
    "created_at": "2026-01-02T03:04:05+00:00", "finished_at": "2026-01-02T03:05:00+00:00",
    "steps": [
        {"id": "task_7_step_1", "step": 1, "evaluation_previous_goal": "Unknown - first step",
         "next_goal": "Simulated step 1 of 75", "url": "about:blank"},
        {"id": "task_7_step_2", "step": 2, "evaluation_previous_goal": "Success",
         "next_goal": "Simulated step 2 of 75", "url": "about:blank"},
    ],
    "live_url": None, "browser_data": None, "user_uploaded_files": [], "output_files": [],
    "public_share_url": None, "metadata": {"k": "v"}, "llm_model": "gpt-4o",
    "max_agent_steps": 75,
}  # fmt: skip
"""The view ``tasklife serve`` answers for a finished task with two steps (every key, in order)."""

GET = v1.get_task("task_1")


def answer(status: int, body: Any, **headers: str) -> v1.Answer:
    """An answer with ``body`` as JSON (bytes as they are) and a JSON content type."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return v1.Answer(status, {"content-type": "application/json", **headers}, raw)


def nested(depth: int, leaf: str = "x") -> bytes:
    """A JSON value nested ``depth`` lists deep."""
    return b"[" * depth + json.dumps(leaf).encode() + b"]" * depth


class TestErrors:
    @pytest.mark.parametrize("cls", SUBCLASSES, ids=lambda c: c.__name__)
    def test_tree(self, cls: type[v1.TransportError]) -> None:
        """Every remote-call error is a v1.TransportError, hence a TaskLifeError."""
        assert issubclass(cls, v1.TransportError)
        assert issubclass(v1.TransportError, TaskLifeError)

    @pytest.mark.parametrize(
        ("cls", "builtin"),
        [(v1.TransportTimeout, TimeoutError), (v1.ConnectionFailed, ConnectionError),
         (v1.ValidationFailed, ValueError), (v1.WaitTimeout, TimeoutError),
         (v1.TaskNotFound, LookupError), (v1.TransportClosed, v1.ConnectionFailed)],
        ids=lambda v: v.__name__,
    )  # fmt: skip
    def test_builtin_bases(self, cls: type[Exception], builtin: type[Exception]) -> None:
        """Where the meaning fits, the builtin is a base too."""
        assert issubclass(cls, builtin)

    @pytest.mark.parametrize("cls", SUBCLASSES, ids=lambda c: c.__name__)
    def test_fields_survive_pickling(self, cls: type[v1.TransportError]) -> None:
        """Every field round-trips through pickle."""
        error = cls("m", status_code=422, detail=[{"loc": ["q"]}], method="PUT", path="/p",
                    may_have_reached_server=True, retry_after=2.0, task_id="t")  # fmt: skip
        copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
        assert (type(copy), str(copy), vars(copy)) == (cls, str(error), vars(error))

    def test_message_names_method_path_and_status(self) -> None:
        """str() says what was asked and what came back."""
        error = v1.ServerError("boom", status_code=503, method="GET", path="/api/v1/tasks")
        assert str(error) == "GET /api/v1/tasks: boom (HTTP 503)"

    def test_task_not_found_for_a_task(self) -> None:
        """TaskNotFound.for_task: the v1 404, naming the id."""
        error = v1.TaskNotFound.for_task("task_9")
        assert (error.status_code, error.detail, error.task_id) == (404, "Task not found", "task_9")

    def test_wait_timeout(self) -> None:
        """WaitTimeout names the task, its status and the time waited; it pickles."""
        error = v1.WaitTimeout("task_1", TaskStatus.PAUSED, 30)
        assert "task_1" in str(error)
        assert "paused" in str(error)
        assert str(pickle.loads(pickle.dumps(error))) == str(error)  # noqa: S301 - our own bytes


PREVIOUS_EXPORTS = {
    "CLIENT_ACTIONS", "ActionRefused", "AsyncBrowserUseTransport", "AsyncInMemoryTransport",
    "AsyncRemoteTask", "AsyncTransport", "AuthError", "BrowserUseTransport", "ConnectionFailed",
    "InMemoryTransport", "ProtocolError", "RateLimited", "RemoteRecord", "RemoteStep",
    "RemoteTask", "RetryPolicy", "ServerError", "TaskNotFound", "TaskPage", "TaskSummary",
    "TaskView", "Transport", "TransportError", "TransportTimeout", "ValidationFailed",
    "WaitTimeout",
}  # fmt: skip
"""What ``tasklife.transports`` exported before the v1 contract existed."""


class TestPublicSurface:
    def test_transports_keep_every_name(self) -> None:
        """tasklife.transports still exports every name it did, plus v1.TransportClosed."""
        assert set(transports_package.__all__) == PREVIOUS_EXPORTS | {"TransportClosed"}

    def test_one_class_per_concept(self) -> None:
        """The records and errors tasklife.transports exports are the v1 contract's."""
        for name in ("TaskNotFound", "TaskPage", "TaskSummary", "TaskView", "TransportError"):
            assert getattr(transports_package, name) is getattr(v1, name)

    def test_all_resolves(self) -> None:
        """Every name in both __all__ lists resolves (the httpx ones lazily)."""
        for module in (v1, transports_package):
            assert all(getattr(module, name) is not None for name in module.__all__)

    def test_unknown_names_raise_attribute_error(self) -> None:
        """The lazy __getattr__ does not swallow typos."""
        with pytest.raises(AttributeError):
            transports_package.BrowserUseTransprt  # noqa: B018

    def test_client_actions_come_from_the_table(self) -> None:
        """CLIENT_ACTIONS (the table's driver column) are the v1 API's three PUT routes."""
        assert {Action.PAUSE, Action.RESUME, Action.STOP} == v1.CLIENT_ACTIONS
        assert set(v1.ACTION_ROUTES.values()) == {
            "/api/v1/pause-task", "/api/v1/resume-task", "/api/v1/stop-task",
        }  # fmt: skip


class TestReaders:
    def test_the_documented_view(self) -> None:
        """Every documented field is read; steps gives the count and the step objects."""
        view = v1.read_task_view(VIEW)
        assert (view.id, view.status, view.steps, view.live_url) == (
            "task_1", TaskStatus.RUNNING, 1, "https://live",
        )  # fmt: skip
        assert view.created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        assert view.step_details[0].next_goal == "n"
        assert dict(view.metadata) == {"k": "v"}
        assert view.output_files == ("a.txt",)
        assert view.raw["something_new"] == 1

    def test_a_step_count_instead_of_a_list(self) -> None:
        """steps as an int is accepted as the count."""
        assert v1.read_task_view({**VIEW, "steps": 4}).steps == 4

    def test_views_are_frozen_and_comparable(self) -> None:
        """Two reads of the same body are equal; metadata cannot be changed."""
        view = v1.read_task_view(VIEW)
        assert view == v1.read_task_view(VIEW)
        with pytest.raises(TypeError):
            view.metadata["k"] = "other"  # type: ignore[index]

    @pytest.mark.parametrize(
        ("change", "field"),
        [({"id": None}, "id"), ({"status": "exploded"}, "status"), ({"status": 3}, "status"),
         ({"created_at": "yesterday"}, "created_at"), ({"steps": "many"}, "steps"),
         ({"steps": [1]}, "steps[0]"), ({"steps": [{"step": "x"}]}, "steps[0].step"),
         ({"metadata": []}, "metadata"), ({"output": 5}, "output"),
         ({"output_files": [1]}, "output_files"), ({"steps": 2**60}, "steps"),
         ({"created_at": "0001-01-01T00:00:00+01:00"}, "created_at"),
         ({"finished_at": "9999-12-31T23:59:59-01:00"}, "finished_at"),
         ({"browser_data": [1]}, "browser_data"), ({"max_agent_steps": "x"}, "max_agent_steps")],
        ids=["no-id", "unknown-status", "int-status", "bad-time", "bad-steps", "bad-step",
             "bad-step-number", "bad-metadata", "bad-output", "bad-files", "huge-count",
             "created-before-utc", "finished-after-utc", "bad-browser-data", "bad-limit"],
    )  # fmt: skip
    def test_wrong_shapes(self, change: dict[str, Any], field: str) -> None:
        """A field of the wrong shape (or a date with no UTC equivalent) is a v1.ProtocolError."""
        with pytest.raises(v1.ProtocolError, match=field.replace("[", r"\[").replace("]", r"\]")):
            v1.read_task_view({**VIEW, **change})

    @pytest.mark.parametrize("body", [[], "running", None, 3], ids=repr)
    def test_not_an_object(self, body: object) -> None:
        """A body that is no JSON object is a v1.ProtocolError."""
        with pytest.raises(v1.ProtocolError):
            v1.read_task_view(body)

    @pytest.mark.parametrize("status", list(TaskStatus), ids=str)
    def test_every_status(self, status: TaskStatus) -> None:
        """Each v1 status string is read."""
        assert v1.read_status(status.value) is status

    @pytest.mark.parametrize("body", ["Running", "started", "", None, {"status": "running"}])
    def test_unknown_statuses(self, body: object) -> None:
        """Anything else is a v1.ProtocolError."""
        with pytest.raises(v1.ProtocolError):
            v1.read_status(body)

    @pytest.mark.parametrize("body", [{"task_id": "t"}, {"id": "a b"}, {"id": ""}, {"id": 3}])
    def test_created(self, body: dict[str, Any]) -> None:
        """run-task's answer gives a usable task id, else v1.ProtocolError."""
        assert v1.read_created({"id": "task_9"}) == "task_9"
        with pytest.raises(v1.ProtocolError):
            v1.read_created(body)

    @pytest.mark.parametrize(
        "body",
        [{"tasks": {}}, {"tasks": [], "page": -1, "limit": 1, "total_pages": 0, "total_count": 0},
         {"tasks": [{"id": "a", "status": "weird"}], "page": 1, "limit": 1, "total_pages": 1,
          "total_count": 1}],
        ids=["tasks-not-list", "negative-page", "bad-item"],
    )  # fmt: skip
    def test_bad_pages(self, body: dict[str, Any]) -> None:
        """A malformed page is a v1.ProtocolError."""
        with pytest.raises(v1.ProtocolError):
            v1.read_page(body)

    @given(json_values)
    def test_any_json_is_read_or_refused(self, body: Any) -> None:
        """Every reader, given any JSON value, returns a record or raises v1.ProtocolError."""
        for read in (v1.read_task_view, v1.read_page, v1.read_status, v1.read_created,
                     v1.read_summary):  # fmt: skip
            with contextlib.suppress(v1.ProtocolError):
                read(body)


class TestWriters:
    def test_a_view_is_written_as_the_server_answers(self) -> None:
        """task_view + task_view_to_json give exactly the JSON tasklife serve answers with."""
        clock = iter(datetime(2026, 1, 2, 3, 4, 5 + n, tzinfo=UTC) for n in range(9))
        task = Task("task_7", clock=lambda: next(clock),
                    created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))  # fmt: skip
        task.start()
        task.advance(2)
        task.finish()
        view = v1.task_view(
            task, text="find a flight", metadata={"k": "v"},
            finished_at=datetime(2026, 1, 2, 3, 5, tzinfo=UTC),
        )  # fmt: skip
        written = v1.task_view_to_json(view)
        assert written == SERVED
        assert list(written) == list(SERVED)

    def test_a_view_round_trips(self) -> None:
        """read(write(view)) == view, and write(read(json)) == json for the server's JSON."""
        view = v1.read_task_view(SERVED)
        assert v1.task_view_to_json(view) == SERVED
        assert v1.read_task_view(v1.task_view_to_json(view)) == view

    @given(tasks(), st.text(max_size=20), st.none() | st.text(max_size=20))
    def test_any_task_view_round_trips(self, task: Task, text: str, output: str | None) -> None:
        """Any task's view survives its writer and reader unchanged."""
        view = v1.task_view(task, text=text, output=output)
        assert v1.read_task_view(json.loads(json.dumps(v1.task_view_to_json(view)))) == view

    def test_a_page_round_trips(self) -> None:
        """A page of summaries survives page_to_json and read_page; total_pages is derived."""
        summary = v1.summary_of(v1.read_task_view(SERVED))
        page = v1.task_page([summary], page=2, limit=1, total=3)
        assert page.total_pages == 3
        assert v1.read_page(v1.page_to_json(page)) == page
        assert v1.read_summary(v1.summary_to_json(summary)) == summary

    @pytest.mark.parametrize(
        ("total", "limit", "pages"), [(0, 10, 0), (1, 10, 1), (10, 10, 1), (11, 10, 2)]
    )
    def test_page_arithmetic(self, total: int, limit: int, pages: int) -> None:
        """total_pages rounds up; page_slice picks a page's items."""
        assert v1.total_pages(total, limit) == pages
        assert list(range(total))[v1.page_slice(2, limit)] == list(range(total))[limit : 2 * limit]


class TestRunTaskRequest:
    def test_only_given_options(self) -> None:
        """Options left out or None are not sent (the remote's defaults apply)."""
        assert v1.run_task_to_json(v1.RunTaskRequest.of("go", llm_model=None)) == {"task": "go"}

    def test_round_trip(self) -> None:
        """run_task_to_json and read_run_task are inverses; secrets never show in the repr."""
        request = v1.RunTaskRequest.of(
            "go", llm_model="m", max_agent_steps=200, metadata={"a": "b"},
            allowed_domains=["x.com"], secrets={"pw": "hunter2"},
        )  # fmt: skip
        assert v1.read_run_task(v1.run_task_to_json(request)) == request
        assert "hunter2" not in repr(request)

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [({"task": " "}, "task"), ({"task": 3}, "task"),
         ({"max_agent_steps": 0}, "max_agent_steps"),
         ({"max_agent_steps": 201}, "max_agent_steps"),
         ({"max_agent_steps": True}, "max_agent_steps"),
         ({"metadata": {str(i): "v" for i in range(11)}}, "metadata"),
         ({"metadata": {"a": 1}}, "metadata"),
         ({"allowed_domains": "a.com"}, "allowed_domains"), ({"llm_model": ""}, "llm_model"),
         ({"secrets": {"a": None}}, "secrets"), ({"colour": "red"}, "colour"),
         ({"task": "go \ud800"}, "task"), ({"llm_model": "\udfff"}, "llm_model"),
         ({"metadata": {"k": "\ud800"}}, "metadata"), ({"metadata": {"\ud800": "v"}}, "metadata"),
         ({"allowed_domains": ["\ud800.com"]}, "allowed_domains"),
         ({"secrets": {"k": "\ud800"}}, "secrets")],
        ids=["blank-task", "int-task", "zero-steps", "too-many-steps", "bool-steps",
             "eleven-pairs", "int-value", "domains-str", "empty-model", "bad-secret",
             "unknown-option", "surrogate-task", "surrogate-model", "surrogate-value",
             "surrogate-key", "surrogate-domain", "surrogate-secret"],
    )  # fmt: skip
    def test_bad_options(self, kwargs: dict[str, Any], field: str) -> None:
        """Each bad option is InvalidArgument naming it, before any request."""
        kwargs = {"task": "go", **kwargs}
        with pytest.raises(InvalidArgument) as caught:
            v1.run_task(kwargs.pop("task"), **kwargs)
        assert caught.value.argument == field
        assert "hunter2" not in str(caught.value)

    def test_a_body_that_is_not_an_object(self) -> None:
        """read_run_task of a list: InvalidArgument on the body."""
        with pytest.raises(InvalidArgument):
            v1.read_run_task(["task"])


class TestRequests:
    @pytest.mark.parametrize("action", sorted(v1.CLIENT_ACTIONS), ids=str)
    def test_push(self, action: Action) -> None:
        """push: PUT /api/v1/{action}-task?task_id=, a write; the path shown has no query."""
        request = v1.push("task_1", action)
        assert (request.method, request.target, request.path, request.write) == (
            "PUT", f"/api/v1/{action}-task?task_id=task_1", f"/api/v1/{action}-task", True,
        )  # fmt: skip

    @pytest.mark.parametrize("action", [Action.START, Action.FINISH, Action.FAIL, "jump"])
    def test_remote_actions_cannot_be_pushed(self, action: Action) -> None:
        """start/finish/fail (and non-actions) are refused: InvalidTaskData."""
        with pytest.raises(InvalidTaskData):
            v1.push("t", action)

    @pytest.mark.parametrize("task_id", [".", "..", "...", "a/..", "../../tasks", "%2e%2e",
                                         "a?b=c", "a&task_id=b", "x#y", "é/?"])  # fmt: skip
    def test_no_id_changes_the_path(self, task_id: str) -> None:
        """Every id is one path segment (dots too) and one query value."""
        target = v1.get_status(task_id).target
        segments = urlsplit(target).path.split("/")
        assert len(segments) == 6
        assert (unquote(segments[4]), segments[5]) == (task_id, "status")
        assert "." not in segments[4]
        push = urlsplit(v1.push(task_id, Action.PAUSE).target)
        assert (push.path, unquote(push.query.removeprefix("task_id="))) == (
            "/api/v1/pause-task", task_id,
        )  # fmt: skip

    @given(task_ids)
    def test_any_id_is_one_segment(self, task_id: str) -> None:
        """For any valid id, the task path has its fixed shape and decodes back to the id."""
        segments = v1.get_task(task_id).target.split("/")
        assert len(segments) == 5
        assert unquote(segments[4]) == task_id
        assert segments[4] not in {".", ".."}

    def test_list_tasks(self) -> None:
        """list_tasks: the query; bad paging is InvalidArgument."""
        assert v1.list_tasks(page=3, limit=7).target == "/api/v1/tasks?page=3&limit=7"
        with pytest.raises(InvalidArgument):
            v1.list_tasks(page=1, limit=101)


STATUS_ERRORS = [
    (400, v1.ActionRefused), (401, v1.AuthError), (403, v1.AuthError),
    (404, v1.TaskNotFound), (409, v1.ActionRefused), (422, v1.ValidationFailed),
    (429, v1.RateLimited), (500, v1.ServerError), (502, v1.ServerError), (503, v1.ServerError),
    (504, v1.ServerError), (418, v1.TransportError), (302, v1.TransportError),
    (201, v1.ProtocolError),
]  # fmt: skip


class TestOutcome:
    @pytest.mark.parametrize(
        ("code", "error"), STATUS_ERRORS, ids=[str(c) for c, _ in STATUS_ERRORS]
    )
    def test_status_codes(self, code: int, error: type[v1.TransportError]) -> None:
        """Each HTTP status becomes its error, with status_code, detail, method, path, task."""
        with pytest.raises(error) as caught:
            v1.outcome(GET, answer(code, {"detail": "why"}))
        assert type(caught.value) is error
        assert (caught.value.status_code, caught.value.detail) == (code, "why")
        assert (caught.value.method, caught.value.path) == ("GET", "/api/v1/task/task_1")
        assert caught.value.task_id == "task_1"

    def test_success(self) -> None:
        """A 200 with JSON is read by the request's reader."""
        assert v1.outcome(v1.get_status("t"), answer(200, "paused")) is TaskStatus.PAUSED

    def test_retry_after_is_read(self) -> None:
        """429 with Retry-After: 7 carries retry_after=7.0."""
        with pytest.raises(v1.RateLimited) as caught:
            v1.outcome(GET, answer(429, {"detail": "x"}, **{"retry-after": "7"}))
        assert caught.value.retry_after == 7.0

    @pytest.mark.parametrize(
        ("reply", "error"),
        [(answer(200, nested(5000)), v1.ProtocolError),
         (answer(200, nested(40)), v1.ProtocolError),
         (answer(200, b"[" * 100_000), v1.ProtocolError),
         (answer(200, b"1" * 5000), v1.ProtocolError),
         (answer(200, {**VIEW, "created_at": "0001-01-01T00:00:00+01:00"}), v1.ProtocolError),
         (answer(200, b"{not json"), v1.ProtocolError),
         (answer(200, b"\xff\xfe\x00"), v1.ProtocolError),
         (v1.Answer(200, {"content-type": "text/html"}, b"{}"), v1.ProtocolError),
         (answer(500, b'{"detail": ' + nested(5000) + b"}"), v1.ServerError),
         (answer(409, b'{"detail": ' + nested(40) + b"}"), v1.ActionRefused),
         (answer(429, {"detail": "x"}, **{"retry-after": "Thu, 01 Jan 99999999999999999999 "
                                           "00:00:00 GMT"}), v1.RateLimited),
         (answer(422, {"detail": [{"loc": None, "msg": "x"}]}), v1.ValidationFailed),
         (answer(422, {"detail": [{"loc": 5, "msg": 5}]}), v1.ValidationFailed),
         (answer(422, {"detail": [{"loc": "body", "msg": None}, 3, None]}), v1.ValidationFailed),
         (answer(422, {"detail": {"loc": ["x"]}}), v1.ValidationFailed),
         (answer(422, {"detail": nested(30).decode()}), v1.ValidationFailed)],
        ids=["deep-200", "deeper-than-32", "unclosed", "huge-number", "date-before-utc",
             "invalid", "not-utf8", "html", "deep-detail", "deep-detail-409",
             "year-of-20-digits", "loc-null", "loc-number", "loc-string", "detail-object",
             "long-detail"],
    )  # fmt: skip
    def test_hostile_answers_are_typed(
        self, reply: v1.Answer, error: type[v1.TransportError]
    ) -> None:
        """Answers httpx parses but a careless reader chokes on: the typed error, nothing else."""
        with pytest.raises(error) as caught:
            v1.outcome(GET, reply)
        assert type(caught.value) is error
        str(caught.value), repr(caught.value), pickle.dumps(caught.value)

    @given(
        st.integers(100, 999),
        st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()),
        st.sampled_from(["application/json", "text/html", "", "application/json; x=\x00"]),
        st.none() | st.text(max_size=40),
    )
    def test_any_answer_is_a_value_or_a_transport_error(
        self, status: int, body: bytes, kind: str, retry_after: str | None
    ) -> None:
        """Whatever the status, body and headers, outcome returns or raises a v1.TransportError."""
        headers = {"content-type": kind}
        if retry_after is not None:
            headers["retry-after"] = retry_after
        requests: tuple[v1.Request[Any], ...] = (
            GET, v1.get_status("t"), v1.list_tasks(), v1.push("t", Action.STOP), v1.run_task("x"),
        )  # fmt: skip
        for request in requests:
            try:
                v1.outcome(request, v1.Answer(status, headers, body))
            except v1.TransportError as error:
                str(error), pickle.dumps(error)


NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


class TestRetryAfter:
    @pytest.mark.parametrize(
        ("value", "seconds"),
        [("3", 3.0), (" 1.5 ", 1.5), ("-4", 0.0), (None, None), ("", None), ("soon", None),
         ("nan", None), ("inf", None), ("1e400", None), ("Thu, 01 Jan 2026 12:00:30 GMT", 30.0),
         ("Thu, 01 Jan 2026 11:00:00 GMT", 0.0),
         ("Thu, 01 Jan 99999999999999999999 00:00:00 GMT", None),
         ("Fri, 31 Dec 9999 23:59:59 -2359", None)],
        ids=["int", "float", "negative", "none", "empty", "word", "nan", "inf", "overflow",
             "date", "past", "year-of-20-digits", "beyond-utc"],
    )  # fmt: skip
    def test_values(self, value: str | None, seconds: float | None) -> None:
        """Seconds or an HTTP date; unreadable, absent or out of range -> None; never < 0."""
        result = v1.parse_retry_after(value, now=NOW)
        assert result == seconds or (seconds is None and result is not None and result >= 0)


class TestLoopback:
    @pytest.mark.parametrize(
        ("host", "loopback"),
        [("localhost", True), ("LOCALHOST", True), ("127.0.0.1", True), ("127.9.9.9", True),
         ("::1", True), ("[::1]", True), ("10.0.0.1", False), ("example.com", False),
         ("localhost.evil.com", False)],
    )  # fmt: skip
    def test_hosts(self, host: str, loopback: bool) -> None:
        """Loopback names and addresses, and nothing else."""
        assert v1.is_loopback_host(host) is loopback
