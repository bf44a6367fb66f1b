"""Converging on the remote's truth after a terminal disagreement, through a real SQLite store.

The documented way (README, Observations): ``Task.observe`` answers ``CONFLICT`` and changes
nothing; the backend rebuilds the task with ``Task.from_remote`` and stores it in place of the
stored one with ``tx.replace``. No terminal status is ever left inside one task's history.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tasklife import Action, Observation, ObservationOutcome, Task, TaskStatus
from tasklife.store import SQLiteTaskStore

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
ENDS = {TaskStatus.STOPPED: Action.STOP, TaskStatus.FAILED: Action.FAIL}


def never_leaves_a_terminal_status(task: Task) -> bool:
    """No record of ``task`` starts from a terminal status."""
    return not any(record.source.is_terminal for record in task.history)


class TestConverge:
    @pytest.mark.parametrize(
        ("local", "remote"),
        [(TaskStatus.STOPPED, TaskStatus.FAILED), (TaskStatus.FAILED, TaskStatus.FINISHED)],
        ids=str,
    )
    def test_rebuild_and_replace(
        self, tmp_path: Path, local: TaskStatus, remote: TaskStatus
    ) -> None:
        """After a terminal conflict, from_remote + replace stores the remote's status; the
        rebuilt history never leaves a terminal status; the feed says replaced; the same
        observation is then a duplicate."""
        store = SQLiteTaskStore(tmp_path / "tasks.sqlite3")
        try:
            task = Task("task_1", created_at=T0)
            task.observe(Observation("running", T0 + timedelta(seconds=1), ref="evt_start"))
            task.apply(ENDS[local])  # the local task ends its own way
            with store.transaction() as tx:
                tx.add(task)

            observation = Observation(remote, T0 + timedelta(seconds=9), ref="evt_end", steps=5)
            with store.transaction() as tx:
                loaded = tx.load("task_1")
                before = loaded.task.to_dict()
                result = loaded.task.observe(observation)
                assert result.outcome is ObservationOutcome.CONFLICT
                assert result.conflict is not None
                assert (result.conflict.local, result.conflict.remote) == (local, remote)
                assert loaded.task.to_dict() == before
                rebuilt = Task.from_remote(
                    "task_1", result.conflict.remote, at=observation.at, steps=5,
                    created_at=loaded.task.created_at, ref=observation.ref,
                )  # fmt: skip
                stored = tx.replace(rebuilt, token=loaded.token)
            assert stored.token == loaded.token + 1

            with store.transaction() as tx:
                again = tx.load("task_1")
            assert again.task == rebuilt
            assert again.task.status is remote
            assert never_leaves_a_terminal_status(again.task)
            assert [r.dest.is_terminal for r in again.task.history].count(True) == 1
            assert again.task.observe(observation).outcome is ObservationOutcome.DUPLICATE
            assert [c.kind for c in store.changes()][-1] == "replaced"
        finally:
            store.close()
