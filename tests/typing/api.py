"""The public API used as a user would; type-checked by mypy --strict, never run."""

from __future__ import annotations

from datetime import UTC, datetime

import tasklife
from tasklife import Action, Task, TaskStatus, TransitionRecord


def clock() -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC)


def on_change(task: Task, record: TransitionRecord) -> None:
    print(task.id, record.seq, record.action, record.source, record.dest, record.at.isoformat())


task: Task = Task("task_1", clock=clock)
unsubscribe = task.subscribe(on_change)
unsubscribe()
started: bool = task.start()
paused: bool = task.pause()
resumed: bool = task.resume()
stopped: bool = task.stop()
failed: bool = Task("t2").fail(reason="boom")
status: TaskStatus = task.status
terminal: bool = status.is_terminal
version: int = task.version
steps: int = task.steps
history: tuple[TransitionRecord, ...] = task.history
allowed: tuple[Action, ...] = task.allowed_actions()
possible: bool = task.can(Action.RESUME)
data: tasklife.TaskDict = task.to_dict()
first: tasklife.RecordDict = data["history"][0]
status_text: str = data["status"]
again: Task = Task.from_dict(data)
prepared = again.prepare(Action.STOP)
if prepared is not None:
    record: TransitionRecord = again.commit(prepared, origin="remote")
reconciled: tuple[TransitionRecord, ...] = Task("t3").reconcile(TaskStatus.FINISHED, steps=3)
path: tuple[Action, ...] | None = tasklife.LIFECYCLE.path(TaskStatus.CREATED, TaskStatus.PAUSED)
observed: tasklife.ObservationResult = task.observe(
    tasklife.Observation(TaskStatus.PAUSED, clock(), ref="evt_1", steps=3),
    skew=tasklife.DEFAULT_SKEW,
)
outcome: tasklife.ObservationOutcome = observed.outcome
conflict: tasklife.ReconcileConflict | None = observed.conflict
seen_at: datetime | None = observed.records[0].remote_at if observed.records else None
rebuilt: Task = Task.from_remote("t4", TaskStatus.FAILED, at=clock(), steps=2, ref="evt_2")

try:
    task.resume()
except tasklife.CannotResumeStoppedTask as error:
    reason: str = str(error)
    allowed_then: tuple[Action, ...] = error.allowed
except tasklife.InvalidTransition as error:
    was: TaskStatus = error.status
