"""``TaskService`` called directly, without HTTP, over a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tasklife import InvalidArgument
from tasklife.service import TaskService
from tasklife.store import SQLiteTaskStore

OWNER = "owner-fingerprint"
UNSTORABLE: dict[str, tuple[str, dict[str, Any]]] = {
    "text": ("task", {"text": "a\ud800"}),
    "llm_model": ("llm_model", {"llm_model": "\udfff"}),
    "metadata-value": ("metadata", {"metadata": {"k": "\ud800"}}),
    "metadata-key": ("metadata", {"metadata": {"\ud800": "v"}}),
    "metadata-11-pairs": ("metadata", {"metadata": {str(i): "v" for i in range(11)}}),
    "steps-201": ("max_agent_steps", {"max_agent_steps": 201}),
    "steps-zero": ("max_agent_steps", {"max_agent_steps": 0}),
}


@pytest.fixture
def service(tmp_path: Path) -> Iterator[TaskService]:
    with SQLiteTaskStore(tmp_path / "tasks.sqlite3") as store:
        yield TaskService(store)


class TestRunTask:
    @pytest.mark.parametrize(("argument", "change"), UNSTORABLE.values(), ids=UNSTORABLE.keys())
    def test_refuses_what_it_cannot_store(
        self, service: TaskService, argument: str, change: dict[str, Any]
    ) -> None:
        """An unencodable string or an out-of-range option is InvalidArgument; nothing stored."""
        options: dict[str, Any] = {"text": "t", **change}
        text = options.pop("text")
        with pytest.raises(InvalidArgument) as info:
            service.run_task(OWNER, text, **options)
        assert info.value.argument == argument
        assert service.page(OWNER, 1, 10).total_count == 0

    def test_fail_reason_must_be_encodable(self, service: TaskService) -> None:
        """A fail reason UTF-8 cannot encode is InvalidArgument; the task stays as it was."""
        record = service.run_task(OWNER, "t")
        with pytest.raises(InvalidArgument):
            service.fail(OWNER, record.id, "\ud800")
        assert service.status(OWNER, record.id).value == "running"
