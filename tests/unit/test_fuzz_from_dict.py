"""Task.from_dict under fuzzing: only InvalidTaskData or a valid task, never another exception.

Inputs are arbitrary JSON values and valid task dicts with random edits. Whatever comes back
must be a task that survives its own round trip and satisfies the lifecycle's invariants.
"""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import example, given
from strategies import JSON, json_values, mutated_task_dicts, task_dicts

from tasklife import LIFECYCLE, InvalidTaskData, Task, TaskStatus


def load(data: Any) -> Task | None:
    """``Task.from_dict(data)``, or None when it raised ``InvalidTaskData`` (nothing else)."""
    refused: InvalidTaskData | None = None
    try:
        return Task.from_dict(data)
    except InvalidTaskData as error:
        refused = error
    assert refused.field, "InvalidTaskData must name the offending field"
    return None


def assert_valid(task: Task) -> None:
    """A loaded task is a legal one: its chain, its version, its round trip."""
    current = TaskStatus.CREATED
    for seq, record in enumerate(task.history, 1):
        assert (record.seq, record.source) == (seq, current)
        assert LIFECYCLE.target(record.source, record.action) is record.dest
        assert record.at.utcoffset() is not None
        current = record.dest
    assert current is task.status
    assert task.version == len(task.history)
    assert task.steps >= 0
    assert Task.from_dict(task.to_dict()) == task
    json.dumps(task.to_dict())


def year_edge(offset: str) -> dict[str, Any]:
    """A valid dict whose ``created_at`` sits at the edge of datetime's range with ``offset``."""
    data: dict[str, Any] = dict(Task("t").to_dict())
    data["created_at"] = f"0001-01-01T00:00:00{offset}"
    return data


class TestFromDictFuzz:
    @given(json_values)
    @example(None)
    @example([])
    @example({"schema_version": True})
    @example(year_edge("+01:00"))
    def test_arbitrary_json(self, data: JSON) -> None:
        """Any JSON value loads as a valid task or raises InvalidTaskData."""
        task = load(data)
        if task is not None:
            assert_valid(task)

    @given(mutated_task_dicts())
    def test_mutated_valid_dicts(self, data: JSON) -> None:
        """A valid dict with random edits loads as a valid task or raises InvalidTaskData."""
        task = load(data)
        if task is not None:
            assert_valid(task)

    @given(mutated_task_dicts())
    def test_fast_path_agrees_with_full_validation(self, data: JSON) -> None:
        """A plain dict (fast path) and the same data behind a read-only mapping (full
        validation) load to equal tasks, or are refused with the same field named."""
        outcomes: list[Task | str] = []
        for form in (data, MappingProxyType(data) if isinstance(data, dict) else data):
            try:
                outcomes.append(Task.from_dict(form))
            except InvalidTaskData as error:
                outcomes.append(error.field)
        assert outcomes[0] == outcomes[1]

    @given(task_dicts)
    def test_valid_dicts_load(self, data: JSON) -> None:
        """Every dict to_dict wrote loads back to a task that writes the same dict."""
        task = Task.from_dict(data)
        assert task.to_dict() == data
        assert_valid(task)

    @pytest.mark.parametrize(
        "stamp",
        ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01T00:30:00+00:45"],
        ids=["min-plus-offset", "max-minus-offset", "min-odd-offset"],
    )
    @pytest.mark.parametrize("where", ["created_at", "history[0].at"])
    def test_timestamp_out_of_utc_range(self, stamp: str, where: str) -> None:
        """A timestamp with no UTC equivalent is InvalidTaskData naming it, not OverflowError."""
        task = Task("t")
        task.start()
        data = task.to_dict()
        if where == "created_at":
            data["created_at"] = stamp
        else:
            data["history"][0]["at"] = stamp
        with pytest.raises(InvalidTaskData) as info:
            Task.from_dict(data)
        assert info.value.field == where
