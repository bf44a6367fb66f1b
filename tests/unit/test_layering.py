"""Dependencies point inward: the domain imports no adapter, and adapters not each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "tasklife"
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
        roots = {"tasklife.cli", "tasklife.demo", "tasklife.__main__"}
        assert [m for m, _ in modules() if layer(m) is None and m not in roots] == []
