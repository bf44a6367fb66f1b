"""The store's errors, shared by every store in ``tasklife.store``."""

from __future__ import annotations

from tasklife.errors import TaskConflict, TaskLifeError
from tasklife.task import check_id

__all__ = [
    "StoreConflict",
    "StoreCorruption",
    "StoreError",
    "checked_id",
]


class StoreError(TaskLifeError):
    """The store could not do what was asked."""


class StoreConflict(StoreError, TaskConflict):
    """A save based on a stale revision (or a second add of one id); nothing was written.

    ``expected`` is the revision the caller loaded, ``actual`` the stored one (None when the
    task is not stored at all). Load the task again, re-apply the change, and save again.
    """

    def __init__(self, task_id: str, expected: int, actual: int | None) -> None:
        self.task_id = task_id
        self.expected = expected
        self.actual = actual
        now = "is not stored" if actual is None else f"is at revision {actual}"
        super().__init__(
            f"task {task_id!r} changed in the store since it was loaded "
            f"(loaded at revision {expected}, now {now}); load it again and retry"
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.task_id, self.expected, self.actual))


class StoreCorruption(StoreError):
    """A stored row does not describe a valid task (``problem`` says which field and why)."""

    def __init__(self, task_id: str, problem: str) -> None:
        self.task_id = task_id
        self.problem = problem
        super().__init__(f"stored task {task_id!r} is not valid: {problem}")

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.task_id, self.problem))


def checked_id(task_id: object) -> str:
    """``task_id`` if it is a valid task id (raises ``InvalidTaskData`` otherwise)."""
    return check_id(task_id, "task_id")
