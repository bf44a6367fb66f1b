"""The transports without the ``http`` extra, and what ``import tasklife`` loads: fresh
interpreters (subprocesses), so an import made by another test cannot hide a problem."""

from __future__ import annotations

import subprocess
import sys


def python(code: str) -> str:
    """Run ``code`` in a fresh interpreter; its stdout."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout


class TestOptionalDependency:
    def test_transports_import_without_httpx(self) -> None:
        """With httpx unimportable, tasklife.transports and InMemoryTransport still work."""
        out = python(
            "import sys; sys.modules['httpx'] = None\n"
            "import tasklife.transports as t\n"
            "r = t.RemoteTask.create(t.InMemoryTransport(), 'x'); r.pause()\n"
            "print(r.status, 'httpx' in sys.modules and sys.modules['httpx'] is not None)\n"
        )
        assert out.split() == ["paused", "False"]

    def test_the_http_adapters_say_how_to_install_httpx(self) -> None:
        """Without httpx, BrowserUseTransport raises ImportError naming tasklife[http]."""
        out = python(
            "import sys; sys.modules['httpx'] = None\n"
            "import tasklife.transports as t\n"
            "try:\n    t.BrowserUseTransport\nexcept ImportError as e:\n    print(e)\n"
        )
        assert "pip install 'tasklife[http]'" in out

    def test_import_tasklife_does_not_load_transports(self) -> None:
        """import tasklife stays free of the transports, the v1 contract and httpx."""
        out = python(
            "import sys, tasklife; print([m for m in ('tasklife.transports', 'tasklife.v1', "
            "'httpx') if m in sys.modules])"
        )
        assert out.strip() == "[]"

    def test_the_v1_contract_is_pure(self) -> None:
        """import tasklife.v1 loads no HTTP, server or SQL code."""
        out = python(
            "import sys, tasklife.v1; print([m for m in ('httpx', 'httpcore', 'fastapi', "
            "'sqlite3', 'tasklife.transports', 'tasklife.server', 'tasklife.store') "
            "if m in sys.modules])"
        )
        assert out.strip() == "[]"
