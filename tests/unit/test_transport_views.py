"""The v1 readers (task view, status, page, created id) and the run-task body checks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tasklife import InvalidTaskData, TaskStatus
from tasklife.transports import ProtocolError
from tasklife.transports.views import (
    parse_created,
    parse_page,
    parse_status,
    parse_task_view,
    run_task_body,
)

VIEW: dict[str, Any] = {
    "id": "task_1", "task": "t", "output": None, "status": "running",
    "created_at": "2026-01-02T03:04:05Z", "finished_at": None,
    "steps": [{"id": "s1", "step": 1, "evaluation_previous_goal": "e", "next_goal": "n",
               "url": "https://x"}],
    "live_url": "https://live", "browser_data": None, "user_uploaded_files": [],
    "output_files": ["a.txt"], "public_share_url": None, "metadata": {"k": "v"},
    "something_new": 1,
}  # fmt: skip


class TestParseTaskView:
    def test_the_documented_view(self) -> None:
        """Every documented field is read; steps gives the count and the step objects."""
        view = parse_task_view(VIEW)
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
        assert parse_task_view({**VIEW, "steps": 4}).steps == 4

    def test_views_are_frozen_and_comparable(self) -> None:
        """Two reads of the same body are equal; metadata cannot be changed."""
        view = parse_task_view(VIEW)
        assert view == parse_task_view(VIEW)
        with pytest.raises(TypeError):
            view.metadata["k"] = "other"  # type: ignore[index]

    @pytest.mark.parametrize(
        ("change", "field"),
        [({"id": None}, "id"), ({"status": "exploded"}, "status"), ({"status": 3}, "status"),
         ({"created_at": "yesterday"}, "created_at"), ({"steps": "many"}, "steps"),
         ({"steps": [1]}, "steps[0]"), ({"steps": [{"step": "x"}]}, "steps[0].step"),
         ({"metadata": []}, "metadata"), ({"output": 5}, "output"),
         ({"output_files": [1]}, "output_files")],
        ids=["no-id", "unknown-status", "int-status", "bad-time", "bad-steps", "bad-step",
             "bad-step-number", "bad-metadata", "bad-output", "bad-files"],
    )  # fmt: skip
    def test_wrong_shapes(self, change: dict[str, Any], field: str) -> None:
        """A field of the wrong shape is a ProtocolError naming it."""
        with pytest.raises(ProtocolError, match=field.replace("[", r"\[").replace("]", r"\]")):
            parse_task_view({**VIEW, **change})

    @pytest.mark.parametrize("body", [[], "running", None, 3], ids=repr)
    def test_not_an_object(self, body: object) -> None:
        """A body that is no JSON object is a ProtocolError."""
        with pytest.raises(ProtocolError):
            parse_task_view(body)


class TestParseOthers:
    @pytest.mark.parametrize("status", list(TaskStatus), ids=str)
    def test_every_status(self, status: TaskStatus) -> None:
        """Each v1 status string is read."""
        assert parse_status(status.value) is status

    @pytest.mark.parametrize("body", ["Running", "started", "", None, {"status": "running"}])
    def test_unknown_statuses(self, body: object) -> None:
        """Anything else is a ProtocolError."""
        with pytest.raises(ProtocolError):
            parse_status(body)

    def test_created(self) -> None:
        """run-task's answer gives the id; without one, ProtocolError."""
        assert parse_created({"id": "task_9"}) == "task_9"
        with pytest.raises(ProtocolError):
            parse_created({"task_id": "task_9"})

    def test_page(self) -> None:
        """A page of summaries with its totals."""
        page = parse_page({"tasks": [{"id": "a", "status": "paused"}], "page": 1, "limit": 10,
                           "total_pages": 1, "total_count": 1})  # fmt: skip
        assert [(t.id, t.status) for t in page.tasks] == [("a", TaskStatus.PAUSED)]

    @pytest.mark.parametrize(
        "body",
        [{"tasks": {}}, {"tasks": [], "page": -1, "limit": 1, "total_pages": 0, "total_count": 0},
         {"tasks": [{"id": "a", "status": "weird"}], "page": 1, "limit": 1, "total_pages": 1,
          "total_count": 1}],
        ids=["tasks-not-list", "negative-page", "bad-item"],
    )  # fmt: skip
    def test_bad_pages(self, body: dict[str, Any]) -> None:
        """A malformed page is a ProtocolError."""
        with pytest.raises(ProtocolError):
            parse_page(body)


class TestRunTaskBody:
    def test_only_given_options(self) -> None:
        """Options left None are not sent (the remote's defaults apply)."""
        assert run_task_body("go") == {"task": "go"}

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [({"task": " "}, "task"), ({"task": 3}, "task"),
         ({"max_agent_steps": 0}, "max_agent_steps"),
         ({"max_agent_steps": 201}, "max_agent_steps"),
         ({"max_agent_steps": True}, "max_agent_steps"),
         ({"metadata": {str(i): "v" for i in range(11)}}, "metadata"),
         ({"metadata": {"a": 1}}, "metadata"),
         ({"allowed_domains": "a.com"}, "allowed_domains"), ({"llm_model": ""}, "llm_model"),
         ({"secrets": {"a": None}}, "secrets")],
        ids=["blank-task", "int-task", "zero-steps", "too-many-steps", "bool-steps",
             "eleven-pairs", "int-value", "domains-str", "empty-model", "bad-secret"],
    )  # fmt: skip
    def test_bad_options(self, kwargs: dict[str, Any], field: str) -> None:
        """Each bad option is InvalidTaskData naming it, before any request."""
        kwargs = {"task": "go", **kwargs}
        with pytest.raises(InvalidTaskData) as caught:
            run_task_body(kwargs.pop("task"), **kwargs)
        assert caught.value.field == field
