"""Dependencies point inward: the domain imports no adapter, and adapters not each other.

``ALLOWED`` below is the house's one plan: the test checks every module's imports against it,
and ``diagrams/house.mmd`` (the picture of the layers, also in README.md's Layout) is generated
from it — ``python tests/unit/test_layering.py`` writes it again; a test fails when it is stale.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "tasklife"
HOUSE = PACKAGE.parent / "diagrams" / "house.mmd"
README = PACKAGE.parent / "README.md"
HOUSE_MARKS = ("<!-- house -->\n```mermaid\n", "```\n<!-- /house -->")
ROOTS = {"tasklife.cli", "tasklife.demo", "tasklife.__main__"}
DOMAIN = {
    "tasklife", "tasklife.lifecycle", "tasklife.task", "tasklife.errors", "tasklife.diagram",
    "tasklife.observation", "tasklife.layout",
}  # fmt: skip

# What each layer may import from tasklife, besides the domain. cli and demo are the
# composition roots that wire adapters together, so they may import anything. The service
# layer (the use cases) sits below the server (the HTTP entry point) and never imports it.
ALLOWED = {
    "domain": set[str](),
    "tasklife.v1": {"tasklife.v1"},
    "tasklife.webhooks": {"tasklife.webhooks", "tasklife.v1"},
    "tasklife.transports": {"tasklife.transports", "tasklife.v1"},
    "tasklife.store": {"tasklife.store"},
    "tasklife.service": {"tasklife.v1", "tasklife.store", "tasklife.webhooks", "tasklife.service"},
    "tasklife.server": {
        "tasklife.v1",
        "tasklife.store",
        "tasklife.service",
        "tasklife.webhooks",
        "tasklife.server",
    },
}


def layer(module: str) -> str | None:
    if module in DOMAIN:
        return "domain"
    for name in ALLOWED:
        if module == name or module.startswith(f"{name}."):
            return name
    return None


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found.append((name, path))
    return found


def imports(path: Path) -> set[str]:
    """Every tasklife module ``path`` imports, at any depth of the code."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {name for name in names if name == "tasklife" or name.startswith("tasklife.")}


class TestLayering:
    @pytest.mark.parametrize(
        ("module", "path"), [pytest.param(m, p, id=m) for m, p in modules() if layer(m) is not None]
    )
    def test_imports_point_inward(self, module: str, path: Path) -> None:
        """A module imports only the domain and its own layer's allowed neighbours."""
        own = layer(module)
        assert own is not None
        allowed = ALLOWED[own]
        outward = {
            name
            for name in imports(path)
            if name not in DOMAIN
            and not any(name == a or name.startswith(f"{a}.") for a in allowed)
        }
        assert outward == set(), f"{module} imports {sorted(outward)}"

    def test_every_module_has_a_place(self) -> None:
        """Each module is in a layer or is a known composition root."""
        assert [m for m, _ in modules() if layer(m) is None and m not in ROOTS] == []

    def test_the_house_diagram_is_current(self) -> None:
        """diagrams/house.mmd pictures ALLOWED (python tests/unit/test_layering.py rewrites it)."""
        assert HOUSE.read_text(encoding="utf-8") == house(), (
            "diagrams/house.mmd is stale: run python tests/unit/test_layering.py"
        )
        assert README.read_text(encoding="utf-8") == with_house(README.read_text("utf-8")), (
            "README.md's house diagram is stale: run python tests/unit/test_layering.py"
        )


def _node(name: str) -> str:
    return name.removeprefix("tasklife.")


def _edges() -> set[tuple[str, str]]:
    """Every import ALLOWED permits (every layer imports the domain; the roots import all)."""
    edges = {("roots", name) for name in ALLOWED}
    for name, allowed in ALLOWED.items():
        if name != "domain":
            edges |= {(name, "domain")} | {(name, a) for a in allowed if a != name}
    return edges


def _reaches(edges: set[tuple[str, str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        here = todo.pop()
        if here == goal:
            return True
        seen.add(here)
        todo += [b for a, b in edges if a == here and b not in seen]
    return False


def house() -> str:
    """A Mermaid flowchart of the layers: ALLOWED's imports, an arrow only where no path is."""
    edges = _edges()
    shown = sorted(
        (a, c)
        for a, c in edges
        if not any(_reaches(edges, b, c) for x, b in edges if x == a and b != c)
    )
    domain = ", ".join(sorted(m.removeprefix("tasklife.") for m in DOMAIN if m != "tasklife"))
    roots = ", ".join(sorted(m.removeprefix("tasklife.") for m in ROOTS))
    lines = [
        "%% Generated from tests/unit/test_layering.py (ALLOWED); do not edit by hand.",
        "%% An arrow is an import; one implied by a longer path is left out.",
        "flowchart BT",
        f'    domain["domain: {domain} (no I/O)"]',
        f'    roots["composition roots: {roots}"]',
    ]
    lines += [f"    {_node(a)} --> {_node(c)}" for a, c in shown]
    return "\n".join(lines) + "\n"


def with_house(readme: str) -> str:
    """``readme`` with the diagram between its house marks replaced by ``house()``."""
    start, end = HOUSE_MARKS
    head, found, rest = readme.partition(start)
    assert found, f"README.md has no {start!r}"
    return head + start + house() + end + rest.partition(end)[2]


if __name__ == "__main__":
    HOUSE.write_text(house(), encoding="utf-8")
    README.write_text(with_house(README.read_text("utf-8")), encoding="utf-8")
    sys.exit(0)
