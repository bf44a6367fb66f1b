"""StoredTask validation and the store errors, without a database."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from tasklife import Task, TaskLifeError
from tasklife.store import StoreConflict, StoreCorruption, StoredTask, StoreError


class TestStoredTask:
    def test_defaults_are_the_v1_defaults(self) -> None:
        """A new record has the v1 defaults: gpt-4o, 75 steps, no metadata, revision 0."""
        record = StoredTask(Task("task_1"), owner="o", text="t")
        assert (record.llm_model, record.max_agent_steps, record.metadata, record.revision) == (
            "gpt-4o",
            75,
            {},
            0,
        )

    def test_id_is_the_tasks(self) -> None:
        """record.id is the task's id."""
        assert StoredTask(Task("task_9"), owner="o", text="t").id == "task_9"

    @pytest.mark.parametrize(
        "fields",
        [
            {"max_agent_steps": 0},
            {"max_agent_steps": True},
            {"metadata": {"k": 1}},
            {"metadata": [("k", "v")]},
            {"text": None},
            {"revision": -1},
            {"output": 3},
        ],
        ids=["steps-zero", "steps-bool", "metadata-value", "metadata-list", "text-none",
             "revision-negative", "output-int"],
    )  # fmt: skip
    def test_bad_fields_are_refused(self, fields: dict[str, Any]) -> None:
        """Fields from outside are validated."""
        base: dict[str, Any] = {"owner": "o", "text": "t"}
        with pytest.raises((TypeError, ValueError)):
            StoredTask(Task("task_1"), **(base | fields))

    def test_repr_shows_no_owner(self) -> None:
        """The repr names the task and revision, not the owner fingerprint."""
        record = StoredTask(Task("task_1"), owner="secret-fingerprint", text="t")
        assert "secret-fingerprint" not in repr(record)


class TestStoreErrors:
    def test_tree(self) -> None:
        """StoreConflict and StoreCorruption are StoreErrors, under TaskLifeError."""
        assert issubclass(StoreConflict, StoreError)
        assert issubclass(StoreCorruption, StoreError)
        assert issubclass(StoreError, TaskLifeError)

    def test_conflict_message_says_what_to_do(self) -> None:
        """The conflict message names both tokens and says to load again."""
        message = str(StoreConflict("task_1", 2, 5))
        assert "token 2" in message
        assert "token 5" in message
        assert "load it again" in message

    def test_conflict_on_missing_task(self) -> None:
        """A conflict with a task no longer stored says so."""
        assert "is not stored" in str(StoreConflict("task_1", 2, None))

    def test_corruption_pickles(self) -> None:
        """StoreCorruption survives pickling with its fields."""
        copy = pickle.loads(pickle.dumps(StoreCorruption("task_1", "bad")))  # noqa: S301
        assert (copy.task_id, copy.problem) == ("task_1", "bad")
