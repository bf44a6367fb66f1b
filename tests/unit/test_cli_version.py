"""``tasklife --version``, and every command's ``--help``."""

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


COMMANDS = [["diagram"], ["serve"], ["demo"], ["webhooks"], ["webhooks", "dead-letters"],
            ["webhooks", "replay"]]  # fmt: skip


class TestHelp:
    @pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
    def test_every_command_describes_itself(
        self, command: list[str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Each command's --help has a description paragraph (its handler's docstring)."""
        with pytest.raises(SystemExit) as exited:
            main([*command, "--help"])
        assert exited.value.code == 0
        paragraphs = capsys.readouterr().out.split("\n\n")
        assert paragraphs[0].startswith(f"usage: tasklife {' '.join(command)}")
        assert not paragraphs[1].startswith(("options:", "positional arguments:"))
        assert len(paragraphs[1]) > 40
