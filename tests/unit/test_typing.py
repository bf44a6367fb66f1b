"""The public API type-checks as users write it, and misuse does not."""

from __future__ import annotations

from pathlib import Path

import pytest
from mypy import api

ROOT = Path(__file__).resolve().parents[2]


def check(source: str, tmp_path: Path) -> tuple[str, int]:
    """Run mypy --strict on ``source``; return its report and exit status."""
    path = tmp_path / "snippet.py"
    path.write_text(source, encoding="utf-8")
    out, err, status = api.run(
        ["--strict", "--no-incremental", "--config-file", str(ROOT / "pyproject.toml"), str(path)]
    )
    return out + err, status


class TestTyping:
    def test_resume_type_checks(self, tmp_path: Path) -> None:
        """task.resume() is known to mypy and returns bool."""
        out, status = check("from tasklife import Task\nok: bool = Task('t').resume()\n", tmp_path)
        assert status == 0, out

    @pytest.mark.parametrize(
        ("source", "message"),
        [
            ("from tasklife import Task\nTask('t').resumee()\n", 'has no attribute "resumee"'),
            ("from tasklife import Task\nTask('t').fail(reason=3)\n", "incompatible type"),
            ("from tasklife import Task\nx: str = Task('t').version\n", "Incompatible types"),
            (
                "from tasklife import Task, TaskStatus\nTask('t').status = TaskStatus.PAUSED\n",
                'Property "status" defined in "Task" is read-only',
            ),
            (
                "from tasklife import Task\nTask('t').steps = -5\n",
                'Property "steps" defined in "Task" is read-only',
            ),
        ],
        ids=["typo", "reason-int", "version-str", "assign-status", "assign-steps"],
    )
    def test_misuse_is_caught(self, tmp_path: Path, source: str, message: str) -> None:
        """Typos and wrong types in uses of the API are mypy errors."""
        out, status = check(source, tmp_path)
        assert status == 1
        assert message in out
