"""The curated public surface, and what ``import tasklife`` loads."""

from __future__ import annotations

import subprocess
import sys

import tasklife

DOCUMENTED = {
    "LIFECYCLE", "TABLE", "Action", "CannotResumeStoppedTask", "Clock", "InvalidArgument",
    "InvalidTaskData", "InvalidTransition", "Lifecycle", "Listener", "ListenerError", "Origin",
    "PreparedTransition", "ReconcileConflict", "Rule", "StaleTransition", "TableError", "Task",
    "TaskConflict", "TaskLifeError", "TaskNotRunning", "TaskStatus", "TransitionRecord",
    "__version__", "utc_now", "DEFAULT_SKEW", "Observation", "ObservationOutcome",
    "ObservationResult", "RecordDict", "TaskDict",
}  # fmt: skip


class TestExports:
    def test_all_is_the_documented_set(self) -> None:
        """__all__ holds exactly the documented names, once each (ruff's RUF022 keeps the order)."""
        assert set(tasklife.__all__) == DOCUMENTED
        assert len(tasklife.__all__) == len(DOCUMENTED)

    def test_every_name_resolves(self) -> None:
        """Every exported name exists on the package."""
        assert all(hasattr(tasklife, name) for name in tasklife.__all__)

    def test_errors_share_one_root(self) -> None:
        """Every exported exception derives from TaskLifeError."""
        exported = [getattr(tasklife, name) for name in tasklife.__all__]
        errors = [v for v in exported if isinstance(v, type) and issubclass(v, Exception)]
        assert errors
        assert all(issubclass(e, tasklife.TaskLifeError) for e in errors)

    def test_import_stays_light(self) -> None:
        """import tasklife loads neither HTTP, server nor SQL code."""
        heavy = ["httpx", "fastapi", "uvicorn", "starlette", "sqlite3", "pydantic", "cattrs"]
        code = f"import sys, tasklife; print([m for m in {heavy!r} if m in sys.modules])"
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        assert out.strip() == "[]"
