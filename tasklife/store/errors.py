"""The errors of ``tasklife.store``, under ``TaskLifeError``.

::

    TaskLifeError
    └── StoreError                          the store could not do what was asked
        ├── StoreConflict (TaskConflict)    a write based on a stale token; nothing was written
        │   └── TooManyConflicts            transact() lost every attempt to other writers
        ├── TaskNotStored (LookupError)     no task with this id is stored
        └── StoreCorruption                 a stored row does not describe a valid task
"""

from __future__ import annotations

from tasklife.errors import TaskConflict, TaskLifeError

__all__ = [
    "StoreConflict",
    "StoreCorruption",
    "StoreError",
    "TaskNotStored",
    "TooManyConflicts",
]


class StoreError(TaskLifeError):
    """The store could not do what was asked (it is unreachable, closed, or refused the SQL)."""


class StoreConflict(StoreError, TaskConflict):
    """A write based on a stale concurrency token (or a second add of one id); nothing was written.

    ``expected`` is the token the caller loaded (0 for an add), ``actual`` the stored one (None
    when the task is not stored at all). Load the task again, re-apply the change, save again:
    ``transact`` does exactly that.
    """

    def __init__(self, task_id: str, expected: int, actual: int | None) -> None:
        self.task_id = task_id
        self.expected = expected
        self.actual = actual
        now = "it is not stored" if actual is None else f"it is at token {actual}"
        super().__init__(
            f"task {task_id!r} changed in the store since it was loaded "
            f"(loaded at token {expected}, now {now}); load it again and retry"
        )


class TooManyConflicts(StoreConflict):
    """``transact`` lost the race to other writers on every one of its ``attempts``."""

    def __init__(self, task_id: str, expected: int, actual: int | None, attempts: int) -> None:
        super().__init__(task_id, expected, actual)
        self.attempts = attempts
        self.args = (
            f"task {task_id!r} was changed by other writers during each of {attempts} "
            f"attempts (last loaded at token {expected}, now at token {actual}); nothing of "
            "this unit of work was written",
        )


class TaskNotStored(StoreError, LookupError):
    """No task with ``task_id`` is stored."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        super().__init__(f"no task {task_id!r} is stored")


class StoreCorruption(StoreError):
    """A stored row does not describe a valid task (``problem`` says which field and why)."""

    def __init__(self, task_id: str, problem: str) -> None:
        self.task_id = task_id
        self.problem = problem
        super().__init__(f"stored task {task_id!r} is not valid: {problem}")
