"""``tasklife --version``."""

from __future__ import annotations

import pytest

import tasklife
from tasklife.cli import main


class TestVersion:
    def test_prints_the_package_version(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--version prints ``tasklife <version>`` (from the installed metadata) and exits 0."""
        with pytest.raises(SystemExit) as exited:
            main(["--version"])
        assert exited.value.code == 0
        assert capsys.readouterr().out == f"tasklife {tasklife.__version__}\n"
