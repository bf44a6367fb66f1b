"""The error tree drawn in ``tasklife.errors``' docstring is the class tree, and the whole of it."""

from __future__ import annotations

import builtins
import copy
import importlib
import inspect
import pickle
import re
from datetime import UTC, datetime

import pytest

import tasklife.errors
from tasklife import Action, Task, TaskStatus
from tasklife.errors import TaskLifeError

MODULES = ("tasklife.errors", "tasklife.v1", "tasklife.store", "tasklife.webhooks")
EVERY_MODULE = (*MODULES, "tasklife.server.runner", "tasklife.service", "tasklife.server")
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
        for module in EVERY_MODULE:
            importlib.import_module(module)
        names = {name for name, _, _ in drawn()}
        missing = {
            f"{c.__module__}.{c.__qualname__}"
            for c in subclasses(TaskLifeError) - {TaskLifeError}
            if c.__module__.startswith("tasklife") and c.__name__ not in names
        }
        assert missing == set()


def every_error() -> list[type[TaskLifeError]]:
    for module in EVERY_MODULE:
        importlib.import_module(module)
    found = subclasses(TaskLifeError)
    return sorted((c for c in found if c.__module__.startswith("tasklife")), key=str)


# A value for each constructor parameter any error of the package takes, by its name.
SAMPLES: dict[str, object] = {
    "message": "the remote said no",
    "field": "history[0].at",
    "argument": "page",
    "problem": "must be an integer >= 1, not 0",
    "reason": "no signature matches",
    "task_id": "t-1",
    "status": TaskStatus.STOPPED,
    "action": Action.RESUME,
    "allowed": (),
    "local": TaskStatus.STOPPED,
    "remote": TaskStatus.RUNNING,
    "expected_version": 2,
    "actual_version": 3,
    "expected": 4,
    "actual": None,
    "attempts": 8,
    "timeout": 1.5,
    "tolerance": 300.0,
    "signed_at": datetime(2026, 1, 1, tzinfo=UTC),
    "now": datetime(2026, 1, 2, tzinfo=UTC),
    "status_code": 409,
    "detail": [{"loc": ["body", "task"], "msg": "too long"}],
    "method": "PUT",
    "path": "/api/v1/pause-task",
    "may_have_reached_server": True,
    "retry_after": 2.0,
}


def sample(cls: type[TaskLifeError]) -> TaskLifeError:
    """An instance of ``cls`` with every constructor parameter given a sample value."""
    if not inspect.isfunction(cls.__init__):
        return cls("a message")
    task = Task("t-1")
    task.start()
    values = {**SAMPLES, "record": task.history[-1], "errors": (ValueError("boom"),)}
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    missing = [p.name for p in params if p.name not in values]
    assert not missing, f"add a sample for {cls.__name__}'s {missing}"
    args = [values[p.name] for p in params if p.kind is not p.KEYWORD_ONLY]
    keywords = {p.name: values[p.name] for p in params if p.kind is p.KEYWORD_ONLY}
    return cls(*args, **keywords)


class TestEveryErrorPickles:
    """The root's one pickling rule (rebuild from the constructor's parameters) holds for all."""

    @pytest.mark.parametrize("cls", every_error(), ids=lambda c: c.__name__)
    def test_round_trip(self, cls: type[TaskLifeError]) -> None:
        """pickle and copy give the same class, message and fields."""
        error = sample(cls)
        for clone in (pickle.loads(pickle.dumps(error)), copy.copy(error)):  # noqa: S301
            assert type(clone) is cls
            assert str(clone) == str(error)
            assert clone.args == error.args
            assert repr(vars(clone)) == repr(vars(error))  # the errors inside compare by repr

    def test_a_subclass_taking_star_args_pickles_as_an_exception(self) -> None:
        """A user's subclass whose constructor takes ``*args`` falls back to Exception's rule."""

        class Wrapped(TaskLifeError):
            def __init__(self, *args: object) -> None:
                super().__init__(*args)

        clone = copy.copy(Wrapped("a", 1))
        assert (type(clone), clone.args) == (Wrapped, ("a", 1))

    def test_every_error_is_sampled(self) -> None:
        """The parametrized list above is the whole tree, not a part of it."""
        assert len(every_error()) == len(drawn()) + 1
