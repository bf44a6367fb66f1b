"""RELIABILITY.md's claims table names tests that exist: no claim points at a moved test."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)(?:::([\w:]+))?(?:\[[^\]`]*\])?`")


def claims() -> str:
    text = (ROOT / "RELIABILITY.md").read_text(encoding="utf-8")
    return text.split("\n## Claims\n", 1)[1].split("\n## ", 1)[0]


def missing(path: str, names: str | None) -> list[str]:
    """The parts of ``path::names`` that do not exist (the file, a class, a function)."""
    file = ROOT / path
    if not file.is_file():
        return [path]
    source = file.read_text(encoding="utf-8")
    return [
        f"{path}::{name}"
        for name in (names.split("::") if names else [])
        if not re.search(rf"^\s*(?:async def|def|class) {re.escape(name)}\b", source, re.M)
    ]


class TestClaimsTable:
    def test_every_named_test_exists(self) -> None:
        """Each ``tests/...py::Class::test`` the table names is a file with that class and test."""
        references = REFERENCE.findall(claims())
        assert len(references) > 100  # the table, not an empty split
        assert [m for path, names in references for m in missing(path, names)] == []
