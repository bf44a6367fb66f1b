"""Extras stay behind their imports: the core, the CLI and the service layer load no server.

Each case runs a fresh interpreter (a subprocess), which is why this lives in integration.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ["httpx", "fastapi", "uvicorn", "starlette", "sqlite3", "pydantic"]
WEB = ["fastapi", "starlette", "pydantic", "uvicorn", "httpx"]


def loaded_after(code: str, watched: list[str]) -> list[str]:
    """Which of ``watched`` are in sys.modules after running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport sys; print([m for m in {watched!r} if m in sys.modules])"
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
        assert loaded_after(code, HEAVY) == []

    def test_diagram_check_loads_nothing_heavy(self, tmp_path: object) -> None:
        """`tasklife diagram --check` runs without loading the server."""
        code = (
            "from tasklife.cli import main\n"
            f"main(['diagram', '--out', {str(tmp_path)!r}, '--check'])"
        )
        assert loaded_after(code, HEAVY) == []


class TestServiceLayer:
    def test_service_imports_no_web_framework(self) -> None:
        """`import tasklife.service` loads no FastAPI, Starlette, pydantic, uvicorn or httpx."""
        assert loaded_after("import tasklife.service", WEB) == []

    def test_the_probe_sees_the_framework(self) -> None:
        """The probe itself works: importing the HTTP entry point does load FastAPI."""
        assert "fastapi" in loaded_after("import tasklife.server", WEB)

    def test_the_sender_names_its_extra(self) -> None:
        """Without httpx, the service layer imports and the webhook sender says what to install."""
        blocked = (
            "import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'httpx' or name.startswith('httpx.'):\n"
            "            raise ImportError('blocked: ' + name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "import tasklife.service\n"
            "try:\n"
            "    from tasklife.service import WebhookSender\n"
            "except ImportError as error:\n"
            "    print(error)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", blocked], capture_output=True, text=True, check=True
        ).stdout
        assert "pip install 'tasklife[http]'" in out
