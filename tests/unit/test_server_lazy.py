"""The server stays behind its extra: the CLI and the core never load it until asked."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ["httpx", "fastapi", "uvicorn", "starlette", "sqlite3", "pydantic"]


def loaded_after(code: str) -> list[str]:
    """Which of HEAVY are in sys.modules after running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport sys; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    loaded: list[str] = eval(out)  # noqa: S307 - our own probe's repr of a list of str
    return loaded


class TestLazyImports:
    @pytest.mark.parametrize(
        "code",
        ["import tasklife", "import tasklife.cli", "from tasklife.cli import _parser; _parser()"],
        ids=["core", "cli-module", "cli-parser"],
    )
    def test_nothing_heavy_is_loaded(self, code: str) -> None:
        """Importing the core or building the CLI loads no HTTP, server or SQL module."""
        assert loaded_after(code) == []

    def test_diagram_check_loads_nothing_heavy(self, tmp_path: object) -> None:
        """`tasklife diagram --check` runs without loading the server."""
        code = (
            "from tasklife.cli import main\n"
            f"main(['diagram', '--out', {str(tmp_path)!r}, '--check'])"
        )
        assert loaded_after(code) == []
