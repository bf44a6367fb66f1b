"""The lifecycle table, its checks and what is derived from it."""

from __future__ import annotations

from typing import TypeAlias

import pytest
from transitions import Machine

from tasklife import LIFECYCLE, TABLE, Action, Lifecycle, Rule, TaskStatus
from tasklife.errors import CannotResumeStoppedTask, InvalidTransition, TableError

S: TypeAlias = TaskStatus
A: TypeAlias = Action

EXPECTED = {
    (S.CREATED, A.START): S.RUNNING,
    (S.RUNNING, A.PAUSE): S.PAUSED,
    (S.PAUSED, A.RESUME): S.RUNNING,
    (S.CREATED, A.STOP): S.STOPPED,
    (S.RUNNING, A.STOP): S.STOPPED,
    (S.PAUSED, A.STOP): S.STOPPED,
    (S.RUNNING, A.FINISH): S.FINISHED,
    (S.CREATED, A.FAIL): S.FAILED,
    (S.RUNNING, A.FAIL): S.FAILED,
    (S.PAUSED, A.FAIL): S.FAILED,
}


class TestStatusAndAction:
    def test_status_values_are_the_api_strings(self) -> None:
        """TaskStatus values are exactly the v1 API's status strings."""
        assert [s.value for s in S] == [
            "created", "running", "paused", "stopped", "finished", "failed",
        ]  # fmt: skip

    def test_terminal_statuses(self) -> None:
        """stopped, finished and failed are terminal; the rest are not."""
        assert {s for s in S if s.is_terminal} == {S.STOPPED, S.FINISHED, S.FAILED}

    def test_action_values(self) -> None:
        """Action values are the six lifecycle verbs."""
        assert [a.value for a in A] == ["start", "pause", "resume", "stop", "finish", "fail"]


class TestTable:
    @pytest.mark.parametrize("status", list(S), ids=str)
    @pytest.mark.parametrize("action", list(A), ids=str)
    def test_target_matches_the_reference_lifecycle(self, status: S, action: A) -> None:
        """Every (status, action) pair leads exactly where the reference doc says, or nowhere."""
        assert LIFECYCLE.target(status, action) == EXPECTED.get((status, action))

    def test_resume_only_from_paused(self) -> None:
        """resume moves paused to running and nothing else."""
        assert [s for s in S if LIFECYCLE.target(s, A.RESUME)] == [S.PAUSED]

    def test_terminal_states_have_no_exits(self) -> None:
        """No action is allowed from a terminal status."""
        assert all(LIFECYCLE.allowed_actions(s) == () for s in LIFECYCLE.terminal)

    def test_allowed_actions_in_table_order(self) -> None:
        """allowed_actions lists the table's actions from a status, in table order."""
        assert LIFECYCLE.allowed_actions(S.RUNNING) == (A.PAUSE, A.STOP, A.FINISH, A.FAIL)

    @pytest.mark.parametrize(
        ("source", "dest", "path"),
        [
            (S.CREATED, S.CREATED, ()),
            (S.CREATED, S.PAUSED, (A.START, A.PAUSE)),
            (S.PAUSED, S.FINISHED, (A.RESUME, A.FINISH)),
            (S.RUNNING, S.STOPPED, (A.STOP,)),
            (S.STOPPED, S.RUNNING, None),
            (S.FINISHED, S.PAUSED, None),
        ],
        ids=lambda v: "-".join(v) if isinstance(v, tuple) else str(v),
    )
    def test_shortest_path(self, source: S, dest: S, path: tuple[A, ...] | None) -> None:
        """path() is the shortest legal action sequence, None when the table forbids any."""
        assert LIFECYCLE.path(source, dest) == path

    @pytest.mark.parametrize(
        ("status", "action"),
        [(s, a) for s in S for a in A if (s, a) not in EXPECTED],
        ids=str,
    )
    def test_refusal_of_each_forbidden_pair(self, status: S, action: A) -> None:
        """stop on a terminal status is a no-op; resume of a stopped task has its own error."""
        refusal = LIFECYCLE.refusal("t-1", status, action)
        if action is A.STOP:
            assert status.is_terminal
            assert refusal is None
        elif (status, action) == (S.STOPPED, A.RESUME):
            assert type(refusal) is CannotResumeStoppedTask
            assert "create a new task" in str(refusal)
        else:
            assert type(refusal) is InvalidTransition
            assert (refusal.task_id, refusal.status, refusal.action) == ("t-1", status, action)
            assert refusal.allowed == LIFECYCLE.allowed_actions(status)

    def test_machine_is_built_once_and_holds_no_model(self) -> None:
        """The one transitions machine belongs to the lifecycle and keeps no task alive."""
        assert isinstance(LIFECYCLE.machine, Machine)
        assert LIFECYCLE.machine.models == []

    def test_markdown_table_lists_every_rule(self) -> None:
        """The generated Markdown table has one row per rule."""
        rows = [line for line in LIFECYCLE.markdown_table().splitlines() if line.startswith("| `")]
        assert [row.split("`")[1] for row in rows] == [r.action.value for r in TABLE]


class TestTableChecks:
    def test_table_error_is_a_tasklife_error(self) -> None:
        """TableError sits under the one root (and stays a ValueError)."""
        from tasklife import TaskLifeError  # noqa: PLC0415 - the point of the test

        assert issubclass(TableError, TaskLifeError)
        assert issubclass(TableError, ValueError)

    def test_terminal_source_is_refused(self) -> None:
        """A rule leaving a terminal status fails the import-time check."""
        bad = (*TABLE, Rule(A.RESUME, (S.STOPPED,), S.RUNNING, "client", "no"))
        with pytest.raises(TableError, match="terminal status stopped must have no exits"):
            Lifecycle(bad)

    def test_unreachable_status_is_refused(self) -> None:
        """A status no rule leads to fails the check."""
        bad = tuple(r for r in TABLE if r.dest is not S.FINISHED)
        with pytest.raises(TableError, match="unreachable from created: finished"):
            Lifecycle(bad)

    def test_unknown_name_is_refused(self) -> None:
        """A rule naming something that is not a status fails the check."""
        bad = (*TABLE, Rule(A.START, ("sleeping",), S.RUNNING, "remote", "no"))  # type: ignore[arg-type]
        with pytest.raises(TableError, match="is not a TaskStatus"):
            Lifecycle(bad)

    def test_duplicate_rule_is_refused(self) -> None:
        """Two rules for the same (status, action) fail the check."""
        bad = (*TABLE, Rule(A.START, (S.CREATED,), S.PAUSED, "remote", "no"))
        with pytest.raises(TableError, match="defined twice"):
            Lifecycle(bad)
