"""The error tree drawn in ``tasklife.errors``' docstring is the class tree, and the whole of it."""

from __future__ import annotations

import builtins
import importlib
import re

import tasklife.errors
from tasklife.errors import TaskLifeError

MODULES = ("tasklife.errors", "tasklife.v1", "tasklife.store", "tasklife.webhooks")
LINE = re.compile(r"^(?P<indent>[│ ]*)[├└]── (?P<name>\w+)(?: \((?P<also>\w+)\))?")


def drawn() -> list[tuple[str, str, str | None]]:
    """(name, parent name, the extra base named in brackets) for each line of the drawing."""
    assert tasklife.errors.__doc__ is not None
    lines = tasklife.errors.__doc__.split("::", 1)[1].split("\n\n", 2)[1].splitlines()
    assert lines[0].strip() == "TaskLifeError"
    parents = ["TaskLifeError"]
    found = []
    for line in lines[1:]:
        match = LINE.match(line.strip("\n")[4:])
        assert match, f"unreadable line in the drawing: {line!r}"
        depth = len(match["indent"]) // 4
        del parents[depth + 1 :]
        found.append((match["name"], parents[depth], match["also"]))
        parents.append(match["name"])
    return found


def named(name: str) -> type:
    for module in (*MODULES, "tasklife.server.runner"):
        found = getattr(importlib.import_module(module), name, None)
        if isinstance(found, type):
            return found
    found = getattr(builtins, name, None)
    assert isinstance(found, type), f"{name} is no class of tasklife nor a builtin"
    return found


def subclasses(root: type) -> set[type]:
    below: list[type] = root.__subclasses__()
    return {root} | {s for c in below for s in subclasses(c)}


class TestErrorsTree:
    def test_each_line_is_a_subclass_of_its_parent(self) -> None:
        """Every drawn error subclasses the line it hangs from, and the base in brackets."""
        for name, parent, also in drawn():
            assert issubclass(named(name), named(parent)), f"{name} is not a {parent}"
            if also is not None:
                assert issubclass(named(name), named(also)), f"{name} is not a {also}"

    def test_every_error_is_drawn(self) -> None:
        """No TaskLifeError subclass of the package is missing from the drawing."""
        for module in (*MODULES, "tasklife.server.runner", "tasklife.service", "tasklife.server"):
            importlib.import_module(module)
        names = {name for name, _, _ in drawn()}
        missing = {
            f"{c.__module__}.{c.__qualname__}"
            for c in subclasses(TaskLifeError) - {TaskLifeError}
            if c.__module__.startswith("tasklife") and c.__name__ not in names
        }
        assert missing == set()
