"""``TaskService``: the server's use cases, as plain Python (no HTTP, no web framework).

Every state change is a ``tasklife.Task`` action on a task loaded from the store, followed by
a save: load, act, save. The service holds no lifecycle logic of its own; what the lifecycle
table refuses, the task refuses (and the HTTP entry point, ``tasklife.server``, maps the
domain error to a status code).

Concurrency. Within one process, changes to one task are serialised by a striped lock, so
threads never race each other on a task; across processes (two servers on one SQLite file)
the store's optimistic revision check catches the race and the whole load-act-save is retried
up to ``max_attempts`` times before ``StoreConflict`` reaches the caller. The service keeps the
last saved record of recently used tasks (up to ``cache_size``) and changes it without reading
the store first: the save's revision check proves it was current, and a refusal is only
answered after the stored revision was checked. So an accepted action costs one short write
transaction and nothing else, however long the task's history has grown.

Simulated execution. A task starts right after it is created (``start``, origin ``remote``).
``tick()`` advances every running task by one step and finishes those that reach their
``max_agent_steps``; ``tasklife.service.Ticker`` calls it on a schedule from one background
thread for the whole service. Client actions are recorded with origin ``local``; what the simulated
service does by itself (start, finish, fail) with origin ``remote``, mirroring the lifecycle
table's "who" column.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import Any, Final, TypeVar

from tasklife.errors import (
    InvalidArgument,
    InvalidTransition,
    TaskLifeError,
    TaskNotRunning,
)
from tasklife.lifecycle import Action, TaskStatus
from tasklife.store import EmulatorPage, EmulatorStore, StoreConflict, StoredTask
from tasklife.task import Clock, Task, check_id, utc_now

__all__ = [
    "DEFAULT_LLM_MODEL",
    "DEFAULT_MAX_AGENT_STEPS",
    "MAX_AGENT_STEPS_LIMIT",
    "MAX_METADATA_PAIRS",
    "TaskNotFound",
    "TaskService",
    "check_text",
    "new_task_id",
    "summary",
]

DEFAULT_MAX_AGENT_STEPS: Final = 75
MAX_AGENT_STEPS_LIMIT: Final = 200
DEFAULT_LLM_MODEL: Final = "gpt-4o"
MAX_METADATA_PAIRS: Final = 10
_STRIPES: Final = 64
_EXCERPT: Final = 80  # characters of the task's text quoted in a simulated output
_CLIENT_ACTIONS: Final = frozenset({Action.PAUSE, Action.RESUME, Action.STOP})

T = TypeVar("T")


class TaskNotFound(TaskLifeError, LookupError):
    """No task with this id belongs to the caller (another owner's task is "not found" too)."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        super().__init__(f"task {task_id!r} not found")

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.task_id,))


def check_text(value: object, argument: str) -> str:
    """``value`` if it is a string UTF-8 can encode, else ``InvalidArgument(argument)``.

    Every string the service stores goes through here: a lone surrogate (which JSON can
    carry as ``"\\ud800"``) would be stored and then make every answer that holds it fail.
    """
    if not isinstance(value, str):
        raise InvalidArgument(argument, f"must be a string, not {type(value).__name__}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise InvalidArgument(
                argument, f"holds a character UTF-8 cannot encode at position {error.start}"
            ) from None
    return value


def new_task_id() -> str:
    """A fresh, unguessable v1-style task id: ``task_`` and 32 hex digits."""
    return f"task_{secrets.token_hex(16)}"


class TaskService:
    """The server's use cases over an ``EmulatorStore``; safe to call from many threads."""

    def __init__(
        self,
        store: EmulatorStore,
        *,
        clock: Clock = utc_now,
        max_attempts: int = 8,
        cache_size: int = 10_000,
        new_id: Callable[[], str] = new_task_id,
    ) -> None:
        if type(max_attempts) is not int or max_attempts < 1:
            raise InvalidArgument("max_attempts", f"must be a positive integer: {max_attempts!r}")
        self.store = store
        self._clock = clock
        self._max_attempts = max_attempts
        self._cache_size = cache_size
        self._new_id = new_id
        self._stripes = tuple(threading.Lock() for _ in range(_STRIPES))
        self._cache: dict[str, StoredTask] = {}
        self._cache_lock = threading.Lock()

    # use cases ---------------------------------------------------------------------------

    def run_task(
        self,
        owner: str,
        text: str,
        *,
        llm_model: str = DEFAULT_LLM_MODEL,
        max_agent_steps: int = DEFAULT_MAX_AGENT_STEPS,
        metadata: dict[str, str] | None = None,
    ) -> StoredTask:
        """Create a task for ``owner`` and start it, as the service does after run-task.

        Raises ``InvalidArgument`` naming the argument, storing nothing, when a string cannot be
        encoded (``check_text``), ``max_agent_steps`` is outside 1..200 or ``metadata`` has
        more than 10 pairs.
        """
        check_text(text, "task")
        check_text(llm_model, "llm_model")
        if type(max_agent_steps) is not int or not 1 <= max_agent_steps <= MAX_AGENT_STEPS_LIMIT:
            raise InvalidArgument(
                "max_agent_steps",
                f"must be an integer from 1 to {MAX_AGENT_STEPS_LIMIT}, not {max_agent_steps!r}",
            )
        pairs = dict(metadata or {})
        if len(pairs) > MAX_METADATA_PAIRS:
            raise InvalidArgument(
                "metadata", f"holds {len(pairs)} pairs; at most {MAX_METADATA_PAIRS} are allowed"
            )
        for key, value in pairs.items():
            check_text(value, f"metadata.{check_text(key, 'metadata')}")
        task = Task(self._new_id(), clock=self._clock)
        task.apply(Action.START, origin="remote")
        record = StoredTask(
            task,
            owner=owner,
            text=text,
            llm_model=llm_model,
            max_agent_steps=max_agent_steps,
            metadata=pairs,
        )
        self.store.add(record)
        self._remember(record)
        return record

    def act(self, owner: str, task_id: str, action: Action) -> bool:
        """Apply a client action (pause, resume, stop); False when it was a no-op.

        Raises ``TaskNotFound``, the domain's ``InvalidTransition`` when the table refuses,
        or ``StoreConflict`` when concurrent writers kept winning every attempt.
        """
        action = Action(action)
        if action not in _CLIENT_ACTIONS:
            raise InvalidArgument("action", f"{action} is not a client action")

        def change(record: StoredTask) -> bool:
            changed = record.task.apply(action, origin="local")
            _note_terminal(record)
            return changed

        return self._mutate(owner, task_id, change, save_if=lambda changed: changed)

    def advance(self, owner: str | None, task_id: str, steps: int = 1) -> dict[str, Any]:
        """Take ``steps`` steps of simulated progress; finishes the task at its step limit.

        Steps beyond ``max_agent_steps`` are not taken. Raises ``TaskNotRunning`` unless the
        task is running.
        """
        if type(steps) is not int or steps < 1:
            raise InvalidArgument("steps", f"must be a positive integer, not {steps!r}")

        def change(record: StoredTask) -> dict[str, Any]:
            task = record.task
            if task.status is not TaskStatus.RUNNING:
                raise TaskNotRunning(task.id, task.status)
            room = record.max_agent_steps - task.steps
            if room > 0:
                task.advance(min(steps, room))
            if task.steps >= record.max_agent_steps:
                self._finish(record)
            return summary(record)

        return self._mutate(owner, task_id, change)

    def finish(self, owner: str | None, task_id: str) -> dict[str, Any]:
        """Finish a running task now, as if its agent had completed it."""

        def change(record: StoredTask) -> dict[str, Any]:
            self._finish(record)
            return summary(record)

        return self._mutate(owner, task_id, change)

    def fail(self, owner: str | None, task_id: str, reason: str | None = None) -> dict[str, Any]:
        """Fail a created, running or paused task now, recording ``reason``."""
        if reason is not None:
            check_text(reason, "reason")

        def change(record: StoredTask) -> dict[str, Any]:
            record.task.apply(Action.FAIL, origin="remote", reason=reason)
            _note_terminal(record)
            return summary(record)

        return self._mutate(owner, task_id, change)

    def read(self, owner: str | None, task_id: str, render: Callable[[StoredTask], T]) -> T:
        """``render(record)`` of the task's current record, while no one changes it.

        Raises ``TaskNotFound`` if the task is missing or not ``owner``'s.
        """
        check_id(task_id, "task_id")
        with self._stripe(task_id):
            return render(self._load(owner, task_id))

    def status(self, owner: str, task_id: str) -> TaskStatus:
        """The task's current status (one small read)."""
        status = self.store.status(task_id, owner)
        if status is None:
            raise TaskNotFound(task_id)
        return status

    def page(self, owner: str, page: int, limit: int) -> EmulatorPage:
        """One page of ``owner``'s tasks, newest first (``page`` from 1)."""
        for name, value in (("page", page), ("limit", limit)):
            if type(value) is not int or value < 1:
                raise InvalidArgument(name, f"must be a positive integer, not {value!r}")
        return self.store.page(owner, page, limit)

    def tick(self) -> int:
        """Advance every running task by one step; returns how many moved."""
        moved = 0
        for task_id in self.store.ids_with_status(TaskStatus.RUNNING):
            try:
                self.advance(None, task_id)
            except (TaskNotRunning, TaskNotFound, StoreConflict):
                continue  # paused, stopped or changed elsewhere since the listing
            moved += 1
        return moved

    # internals ---------------------------------------------------------------------------

    def _finish(self, record: StoredTask) -> None:
        record.task.apply(Action.FINISH, origin="remote")
        text = record.text
        excerpt = text if len(text) <= _EXCERPT else f"{text[:_EXCERPT]}…"
        steps = record.task.steps
        record.output = f"Simulated result after {steps} step(s) for the task: {excerpt}"
        _note_terminal(record)

    def _stripe(self, task_id: str) -> threading.Lock:
        return self._stripes[hash(task_id) % _STRIPES]

    def _load(self, owner: str | None, task_id: str) -> StoredTask:
        revision = self.store.revision(task_id, owner)
        if revision is None:
            raise TaskNotFound(task_id)
        cached = self._cache.get(task_id)
        if cached is not None and cached.revision == revision:
            return cached
        record = self.store.get(task_id, owner)
        if record is None:
            raise TaskNotFound(task_id)
        self._remember(record)
        return record

    def _mutate(
        self,
        owner: str | None,
        task_id: str,
        change: Callable[[StoredTask], T],
        save_if: Callable[[T], bool] = lambda _: True,
    ) -> T:
        """Load, ``change``, save; retried from a fresh load when another writer got there first.

        A cached record is used without asking the store first: the save's revision check
        catches a stale one. Only when the change is refused (or was a no-op, which saves
        nothing) is the revision read, so a refusal is never based on a stale copy.
        """
        check_id(task_id, "task_id")
        conflict: StoreConflict | None = None
        stale_revision = 0
        for _ in range(self._max_attempts):
            with self._stripe(task_id):
                record, verified = self._load_for_change(owner, task_id)
                try:
                    result = change(record)
                    if save_if(result):
                        self.store.save(record)
                    elif not verified and self._is_stale(record):
                        stale_revision = record.revision
                        continue
                except (InvalidTransition, TaskNotRunning):
                    if not verified and self._is_stale(record):
                        stale_revision = record.revision
                        continue
                    raise  # the domain refused: the task is exactly as loaded
                except StoreConflict as error:
                    self._forget(task_id)
                    conflict = error
                    continue
                except BaseException:
                    self._forget(task_id)
                    raise
                return result
        if conflict is None:  # only refusals on stale copies; the store kept moving
            conflict = StoreConflict(task_id, stale_revision, self.store.revision(task_id))
        raise conflict

    def _load_for_change(self, owner: str | None, task_id: str) -> tuple[StoredTask, bool]:
        """The record to change, and whether it was just read from the store."""
        cached = self._cache.get(task_id)
        if cached is not None and (owner is None or cached.owner == owner):
            return cached, False
        return self._load(owner, task_id), True

    def _is_stale(self, record: StoredTask) -> bool:
        """True (and the record forgotten) when the store holds a newer revision."""
        if self.store.revision(record.id) == record.revision:
            return False
        self._forget(record.id)
        return True

    def _remember(self, record: StoredTask) -> None:
        with self._cache_lock:
            cache = self._cache
            cache[record.id] = record
            if len(cache) > self._cache_size:
                del cache[next(iter(cache))]

    def _forget(self, task_id: str) -> None:
        with self._cache_lock:
            self._cache.pop(task_id, None)


def _note_terminal(record: StoredTask) -> None:
    """Stamp ``finished_at`` with the time of the transition that made the task terminal."""
    task = record.task
    if task.is_terminal and record.finished_at is None and task.version:
        record.finished_at = task.history[-1].at


def summary(record: StoredTask) -> dict[str, Any]:
    """A short dict for logs and the emulator endpoints."""
    return {"id": record.id, "status": record.task.status.value, "steps": record.task.steps}
