"""The store errors, without a database."""

from __future__ import annotations

import pickle

from tasklife import TaskLifeError
from tasklife.store import StoreConflict, StoreCorruption, StoreError


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
