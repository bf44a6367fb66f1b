"""diagrams/ and the README's table are generated from the lifecycle table, and kept fresh."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest

from tasklife import LIFECYCLE, TABLE, Action, Lifecycle, TaskStatus
from tasklife.cli import main
from tasklife.diagram import mermaid, render, svg

ROOT = Path(__file__).resolve().parents[2]


class TestDiagramFiles:
    @pytest.mark.parametrize("name", sorted(render(LIFECYCLE)))
    def test_committed_file_is_fresh(self, name: str) -> None:
        """Each file in diagrams/ is exactly what the table renders (run `tasklife diagram`)."""
        assert (ROOT / "diagrams" / name).read_text(encoding="utf-8") == render(LIFECYCLE)[name]

    def test_readme_table_is_the_generated_one(self) -> None:
        """The README's lifecycle table is the table's own Markdown rendering."""
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        match = re.search(r"<!-- lifecycle-table -->\n(.*?)<!-- /lifecycle-table -->", readme, re.S)
        assert match is not None
        assert match.group(1) == LIFECYCLE.markdown_table()


class TestMermaid:
    def test_start_and_final_states(self) -> None:
        """The start is marked and every terminal status is drawn as final."""
        chart = mermaid(LIFECYCLE).splitlines()
        assert chart[:2] == ["stateDiagram-v2", "    [*] --> created"]
        finals = {line.split()[0] for line in chart if line.endswith("--> [*]")}
        assert finals == {"stopped", "finished", "failed"}

    def test_every_rule_is_an_edge(self) -> None:
        """Each (source, action, dest) of the table is one edge, and there are no others."""
        edges = {line.strip() for line in mermaid(LIFECYCLE).splitlines() if " : " in line}
        expected = {f"{s} --> {r.dest} : {r.action}" for r in TABLE for s in r.sources}
        assert edges == expected

    def test_follows_a_changed_table(self) -> None:
        """A different table draws a different diagram: nothing is hard-coded."""
        narrower = Lifecycle(
            attrs.evolve(r, sources=r.sources[1:]) if r.action is Action.FAIL else r for r in TABLE
        )
        assert "    created --> failed : fail" in mermaid(LIFECYCLE)
        assert "    created --> failed : fail" not in mermaid(narrower)


class TestSvg:
    def test_draws_every_status_and_action(self) -> None:
        """The picture names every status and every action."""
        picture = svg(LIFECYCLE)
        assert picture.startswith("<svg ")
        for name in [*TaskStatus, *(r.action for r in TABLE)]:
            assert f">{name}</text>" in picture


class TestDiagramCommand:
    def test_writes_the_files(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """`tasklife diagram --out DIR` writes every file."""
        assert main(["diagram", "--out", str(tmp_path)]) == 0
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(render(LIFECYCLE))
        assert "wrote" in capsys.readouterr().out

    def test_check_flags_a_stale_file(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`--check` exits 1 and names the file when one is out of date."""
        main(["diagram", "--out", str(tmp_path)])
        (tmp_path / "task_lifecycle.mmd").write_text("stateDiagram-v2\n", encoding="utf-8")
        assert main(["diagram", "--out", str(tmp_path), "--check"]) == 1
        assert "task_lifecycle.mmd" in capsys.readouterr().err
