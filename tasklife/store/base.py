"""The store port: ``TaskStore``, the ``StoredTask`` it keeps, and the store's errors."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, Self, runtime_checkable

import attrs

from tasklife.errors import TaskConflict, TaskLifeError
from tasklife.lifecycle import TaskStatus
from tasklife.task import Task, check_id

__all__ = [
    "StoreConflict",
    "StoreCorruption",
    "StoreError",
    "StoredTask",
    "TaskPage",
    "TaskStore",
    "TaskSummary",
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


def _str_dict(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise TypeError(f"{attribute.name} must be a dict of str to str")


def _positive(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not int or value < 1:
        raise ValueError(f"{attribute.name} must be a positive integer, not {value!r}")


def _non_negative(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not int or value < 0:
        raise ValueError(f"{attribute.name} must be a non-negative integer, not {value!r}")


@attrs.define(eq=False)
class StoredTask:
    """A ``Task`` plus the Browser Use v1 fields the domain core does not hold.

    ``owner`` is an opaque string naming who may see the task (the server stores a SHA-256
    fingerprint of the API key, never the key). ``revision`` is the store's revision this
    record was loaded at (0: never stored); it bumps on every save, including saves that only
    moved the step counter, so no change is ever lost to a concurrent writer.
    ``persisted_version`` is how many of ``task.history`` records the store already holds.
    Both are managed by the store.
    """

    task: Task = attrs.field(validator=attrs.validators.instance_of(Task))
    owner: str = attrs.field(validator=attrs.validators.instance_of(str))
    text: str = attrs.field(validator=attrs.validators.instance_of(str))
    llm_model: str = attrs.field(default="gpt-4o", validator=attrs.validators.instance_of(str))
    max_agent_steps: int = attrs.field(default=75, validator=_positive)
    metadata: dict[str, str] = attrs.field(factory=dict, validator=_str_dict)
    output: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(str))
    )
    finished_at: datetime | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(datetime))
    )
    revision: int = attrs.field(default=0, validator=_non_negative)
    persisted_version: int = attrs.field(default=0, validator=_non_negative)

    @property
    def id(self) -> str:
        """The task's id."""
        return self.task.id

    def __repr__(self) -> str:
        return f"StoredTask({self.task!r}, revision={self.revision})"


@attrs.frozen
class TaskSummary:
    """What a task listing shows of one task (no history is loaded for it)."""

    id: str
    text: str
    status: TaskStatus
    steps: int
    created_at: datetime
    finished_at: datetime | None
    output: str | None


@attrs.frozen
class TaskPage:
    """One page of an owner's tasks, newest first, and how many tasks the owner has in all."""

    items: tuple[TaskSummary, ...]
    total: int


@runtime_checkable
class TaskStore(Protocol):
    """Keeps ``StoredTask``s; every method is safe to call from many threads at once.

    ``owner=None`` in a read means "whoever owns it" (the server's own ticker uses it); any
    other owner sees only its own tasks, and another owner's task reads as missing.
    """

    def add(self, record: StoredTask) -> None:
        """Store a new task; ``StoreConflict`` if its id is already stored."""

    def get(self, task_id: str, owner: str | None = None) -> StoredTask | None:
        """The task with its full history, or None when missing (or not ``owner``'s)."""

    def revision(self, task_id: str, owner: str | None = None) -> int | None:
        """The stored revision of a task, or None when missing (or not ``owner``'s)."""

    def status(self, task_id: str, owner: str | None = None) -> TaskStatus | None:
        """The stored status of a task, or None when missing (or not ``owner``'s)."""

    def save(self, record: StoredTask) -> None:
        """Write ``record`` if the stored revision is still ``record.revision``.

        On success ``record.revision`` and ``record.persisted_version`` are updated; on a
        stale revision ``StoreConflict`` is raised and nothing is written.
        """

    def page(self, owner: str, page: int, limit: int) -> TaskPage:
        """The ``page``-th (from 1) group of ``limit`` of ``owner``'s tasks, newest first."""

    def ids_with_status(self, status: TaskStatus) -> list[str]:
        """The ids of every stored task (any owner) whose status is ``status``."""

    def close(self) -> None:
        """Release the store's resources; it must not be used afterwards."""

    def __enter__(self) -> Self:
        """The store itself."""

    def __exit__(self, *exc_info: object) -> None:
        """Close the store."""


def checked_id(task_id: object) -> str:
    """``task_id`` if it is a valid task id (raises ``InvalidTaskData`` otherwise)."""
    return check_id(task_id, "task_id")
