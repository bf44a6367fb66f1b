"""Shared Hypothesis strategies for tasklife's tests (imported as ``strategies``).

``tests/conftest.py`` puts ``tests/`` on ``sys.path``, so any test module can
``from strategies import task_ids, task_dicts, json_values, mutated_task_dicts``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeAlias

from hypothesis import strategies as st

from tasklife import LIFECYCLE, Action, Observation, Task, TaskStatus

# The reference lifecycle, written out by hand from the reference document (deliberately not
# derived from tasklife's own table): the model-based tests compare tasklife with it.
REFERENCE_TABLE: dict[tuple[str, str], str] = {
    ("created", "start"): "running",
    ("running", "pause"): "paused",
    ("paused", "resume"): "running",
    ("created", "stop"): "stopped",
    ("running", "stop"): "stopped",
    ("paused", "stop"): "stopped",
    ("running", "finish"): "finished",
    ("created", "fail"): "failed",
    ("running", "fail"): "failed",
    ("paused", "fail"): "failed",
}
REFERENCE_TERMINAL = frozenset({"stopped", "finished", "failed"})

__all__ = [
    "JSON",
    "actions",
    "aware_datetimes",
    "hostile_ids",
    "json_values",
    "mutated_task_dicts",
    "statuses",
    "task_dicts",
    "task_ids",
    "tasks",
    "ticking_clock",
]

JSON: TypeAlias = Any
"""A value ``json.loads`` could return."""

T0 = datetime(2026, 1, 1, tzinfo=UTC)

actions = st.sampled_from(list(Action))
statuses = st.sampled_from(list(TaskStatus))

# Letters, marks, numbers, punctuation and symbols: no separators (Z*), no control or
# unassigned code points (C*), so every string drawn is a valid task id.
_ID_CHARS = st.characters(categories=["L", "M", "N", "P", "S"])
task_ids = st.text(_ID_CHARS, min_size=1, max_size=40)
"""Valid task ids (non-empty, printable, no whitespace)."""

hostile_ids = st.one_of(
    st.sampled_from(["", " ", "x" * 257, "x" * 10_000, "a\x00b", "a\nb", "\t", "\u2028", "\ud800"]),
    st.text(min_size=0, max_size=300),
)
"""Strings, many of them invalid as task ids (whitespace, control characters, too long)."""

aware_datetimes = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 30), timezones=st.just(UTC)
) | st.builds(
    lambda at, minutes: at.replace(tzinfo=None).replace(
        tzinfo=timezone(timedelta(minutes=minutes))
    ),
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 30)),
    st.integers(-23 * 60, 23 * 60),
)
"""Timezone-aware datetimes (UTC and fixed offsets) that convert to UTC without overflow."""


def ticking_clock(start: datetime = T0) -> Callable[[], datetime]:
    """A clock that moves one second per reading (deterministic history timestamps)."""
    state = {"now": start}

    def now() -> datetime:
        state["now"] += timedelta(seconds=1)
        return state["now"]

    return now


@st.composite
def tasks(draw: st.DrawFn) -> Task:
    """A task brought through a random sequence of legal actions (with random steps) and
    observations of the remote."""
    task = Task(draw(task_ids), clock=ticking_clock(draw(aware_datetimes)))
    for action in draw(st.lists(actions, max_size=12)):
        if draw(st.integers(0, 3)) == 0:  # now and then, a status seen on the remote
            ref = draw(st.none() | st.text("abcdef0123456789", min_size=1, max_size=8))
            task.observe(Observation(draw(statuses), draw(aware_datetimes), ref=ref))
        if task.can(action):
            reason = draw(st.none() | st.text(max_size=20)) if action is Action.FAIL else None
            task.apply(action, origin=draw(st.sampled_from(["local", "remote"])), reason=reason)
        if task.status is TaskStatus.RUNNING and draw(st.booleans()):
            task.advance(draw(st.integers(1, 1000)))
    assert task.version == len(task.history)
    assert LIFECYCLE.path(TaskStatus.CREATED, task.status) is not None
    return task


task_dicts = tasks().map(lambda task: task.to_dict())
"""Valid dicts as ``Task.to_dict`` writes them."""

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["created", "running", "stop", "2026-01-01T00:00:00+00:00", "local"])
    | st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
)
json_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=15), children, max_size=6)
    ),
    max_leaves=25,
)
"""Arbitrary JSON values (including boundary timestamps and near-miss enum strings)."""


def _paths(value: JSON, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every path into ``value``'s dicts and lists (the root is ``()``)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


@st.composite
def mutated_task_dicts(draw: st.DrawFn) -> JSON:
    """A valid task dict with one to three random edits: a value replaced, a key dropped or
    added, a list item removed or duplicated."""
    data: JSON = copy.deepcopy(draw(task_dicts))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(data)))
        if not path:
            data = draw(json_values) if draw(st.integers(0, 9)) == 0 else data
            continue
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        last = path[-1]
        how = draw(st.sampled_from(["replace", "drop", "add", "duplicate"]))
        if how == "replace":
            parent[last] = draw(json_values)
        elif how == "drop":
            del parent[last]
        elif how == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=10))] = draw(json_values)
        elif isinstance(parent, list) and isinstance(last, int):
            parent.insert(last, copy.deepcopy(parent[last]))
    return data
