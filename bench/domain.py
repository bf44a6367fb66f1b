"""The domain op (rehydrate + ``resume()`` + ``to_dict()``) against the alternatives.

Every contender does the same work on the same paused task's dict (history: start, pause):
read the dict into a live object (timestamps parsed into datetimes), resume it (which appends
a history record stamped with the current time), and write the dict back. The contenders:

- ``tasklife``: ``Task.from_dict(d)``, ``resume()``, ``to_dict()`` (which also validates the
  whole dict and the history chain, which the others do not).
- ``transitions, Machine per task``: a plain model and a ``transitions.Machine`` built for it,
  string states from the same table, a callback appending the history record.
- ``python-statemachine``: a ``StateMachine`` subclass (3.x) instantiated per task with
  ``start_value``; an ``after_transition`` hook appending the record.
- ``dict lookup (floor)``: a hand-written ``{(status, action): dest}`` lookup and a dict copy;
  no objects, no validation: the least any implementation can do.

A bare action is ``pause()``/``resume()`` on an object that is already live (the figure is
per action; each contender swaps in a fresh started object every 500 pairs so history stays
short for all of them).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from transitions import Machine

from bench.report import Section, Verdict, table
from bench.timing import Stats, interleaved
from tasklife import TABLE, Task
from tasklife.layout import SCHEMA_VERSION

__all__ = ["run"]

TARGET_US = 10.0
TARGET_VS_MACHINE = 5.0
TARGET_VS_STATEMACHINE = 20.0

_STATES = [s.value for s in dict.fromkeys(st for r in TABLE for st in (*r.sources, r.dest))]
_TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": r.action.value, "source": [s.value for s in r.sources], "dest": r.dest.value}
    for r in TABLE
]
_NEXT = {(s.value, r.action.value): r.dest.value for r in TABLE for s in r.sources}
_RESET_EVERY = 500


def sample() -> dict[str, Any]:
    """The dict every contender starts from: a paused task (history: start, pause)."""
    task = Task("task_0123456789")
    task.start()
    task.pause()
    return dict(task.to_dict())


class _Model:
    """A plain object the alternative machines drive (they add their own attributes)."""

    id: str
    status: str
    steps: int
    created_at: datetime
    history: list[dict[str, Any]]


def _load(model: _Model, data: dict[str, Any]) -> _Model:
    model.id = data["id"]
    model.status = data["status"]
    model.steps = data["steps"]
    model.created_at = datetime.fromisoformat(data["created_at"])
    model.history = [{**r, "at": datetime.fromisoformat(r["at"])} for r in data["history"]]
    return model


def _dump(model: _Model) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "id": model.id,
        "status": model.status,
        "version": len(model.history),
        "steps": model.steps,
        "created_at": model.created_at.isoformat(),
        "history": [{**r, "at": r["at"].isoformat()} for r in model.history],
    }


def _append(model: _Model, action: str, source: str, dest: str) -> None:
    model.history.append(
        {"seq": len(model.history) + 1, "action": action, "source": source, "dest": dest,
         "at": datetime.now(UTC), "origin": "local", "reason": None, "remote_at": None,
         "ref": None, "inferred": False}
    )  # fmt: skip


def _record_transition(event: Any) -> None:
    t = event.transition
    _append(event.model, event.event.name, t.source, t.dest)


def _machine_for(model: _Model) -> Any:
    return Machine(
        model=model,
        states=_STATES,
        transitions=_TRANSITIONS,
        initial=model.status,
        auto_transitions=False,
        send_event=True,
        model_attribute="status",
        after_state_change=[_record_transition],
    )


def _statemachine_class() -> type[Any] | str:
    """The python-statemachine chart for the table, or why it cannot be built."""
    try:
        sm = importlib.import_module("statemachine")
    except ImportError:
        return "python-statemachine is not installed (pip install 'python-statemachine>=3,<4')"
    major = int(sm.__version__.split(".")[0])
    if major != 3:
        return f"python-statemachine {sm.__version__} is installed; this benchmark needs 3.x"
    states = {s: sm.State(initial=s == "created", final=s in {"stopped", "finished", "failed"})
              for s in _STATES}  # fmt: skip
    namespace: dict[str, Any] = dict(states)
    for r in _TRANSITIONS:
        transition = None
        for src in r["source"]:
            edge = states[src].to(states[r["dest"]])
            transition = edge if transition is None else transition | edge
        namespace[r["trigger"]] = transition

    def after_transition(self: Any, event: Any, source: Any, target: Any) -> None:
        _append(self.model, str(event), source.id, target.id)

    namespace["after_transition"] = after_transition
    return type("TaskChart", (sm.StateMachine,), namespace)


def _contenders(data: dict[str, Any]) -> tuple[dict[str, Callable[[], object]], str | None]:
    def tasklife_op() -> object:
        task = Task.from_dict(data)
        task.resume()
        return task.to_dict()

    def machine_op() -> object:
        model = _load(_Model(), data)
        _machine_for(model)
        model.resume()  # type: ignore[attr-defined]
        return _dump(model)

    def floor_op() -> object:
        source = data["status"]
        dest = _NEXT[source, "resume"]
        history = [
            *data["history"],
            {"seq": len(data["history"]) + 1, "action": "resume", "source": source, "dest": dest,
             "at": datetime.now(UTC).isoformat(), "origin": "local", "reason": None,
             "remote_at": None, "ref": None, "inferred": False},
        ]  # fmt: skip
        return {**data, "status": dest, "version": len(history), "history": history}

    ops: dict[str, Callable[[], object]] = {
        "tasklife": tasklife_op,
        "transitions, Machine per task": machine_op,
    }
    chart = _statemachine_class()
    missing = None
    if isinstance(chart, str):
        missing = chart
    else:

        def statemachine_op() -> object:
            model = _load(_Model(), data)
            chart(model=model, state_field="status", start_value=model.status).send("resume")
            return _dump(model)

        ops["python-statemachine"] = statemachine_op
    ops["dict lookup (floor)"] = floor_op
    return ops, missing


def _bare_actions(data: dict[str, Any]) -> dict[str, Callable[[], object]]:
    """Each callable does one pause/resume pair on a live object (reported per action)."""

    def live_task() -> Task:
        task = Task("task_live")
        task.start()
        return task

    holder = [live_task(), 0]

    def tasklife_pair() -> object:
        task: Task = holder[0]  # type: ignore[assignment]
        task.pause()
        task.resume()
        holder[1] = count = holder[1] + 1  # type: ignore[operator]
        if count % _RESET_EVERY == 0:
            holder[0] = live_task()
        return None

    def live_model() -> _Model:
        model = _load(_Model(), {**data, "status": "running", "history": data["history"][:1]})
        shared.add_model(model)
        return model

    shared = Machine(
        model=None, states=_STATES, transitions=_TRANSITIONS, initial="running",
        auto_transitions=False, send_event=True, model_attribute="status",
        after_state_change=[_record_transition],
    )  # fmt: skip
    mholder: list[Any] = [live_model(), 0]

    def machine_pair() -> object:
        model = mholder[0]
        model.pause()
        model.resume()
        mholder[1] += 1
        if mholder[1] % _RESET_EVERY == 0:
            shared.remove_model(model)
            mholder[0] = live_model()
        return None

    fholder: list[Any] = [{**data, "status": "running", "history": list(data["history"][:1])}, 0]

    def floor_pair() -> object:
        for action in ("pause", "resume"):
            d = fholder[0]
            source = d["status"]
            dest = _NEXT[source, action]
            d["status"] = dest
            d["history"].append(
                {"seq": len(d["history"]) + 1, "action": action, "source": source, "dest": dest,
                 "at": datetime.now(UTC), "origin": "local", "reason": None}
            )  # fmt: skip
        fholder[1] += 1
        if fholder[1] % _RESET_EVERY == 0:
            fholder[0] = {**data, "status": "running", "history": list(data["history"][:1])}
        return None

    return {
        "tasklife (shared Machine)": tasklife_pair,
        "transitions (shared Machine, add_model)": machine_pair,
        "dict lookup (floor)": floor_pair,
    }


def _parts(data: dict[str, Any]) -> dict[str, Callable[[], object]]:
    paused = Task.from_dict(data)
    return {"Task.from_dict": lambda: Task.from_dict(data), "Task.to_dict": paused.to_dict}


def run(*, quick: bool) -> Section:
    """Measure the op, its parts and a bare action; judge the three domain targets."""
    rounds, batch = (5, 0.02) if quick else (15, 0.1)
    data = sample()
    ops, missing = _contenders(data)
    op = interleaved(ops, rounds=rounds, batch_seconds=batch)
    parts = interleaved(_parts(data), rounds=rounds, batch_seconds=batch)
    bare = interleaved(_bare_actions(data), rounds=rounds, batch_seconds=batch)
    ours = op["tasklife"].median

    def ratio(s: Stats) -> str:
        return f"{s.median / ours:.2f}x"

    rows = [(f"`{name}`", s.spread(1e6), ratio(s)) for name, s in op.items()]
    if missing:
        rows.append(("`python-statemachine`", f"not measured: {missing}", ""))
    body = [
        f"One op = rehydrate a paused task from its dict + `resume()` + `to_dict()`. "
        f"{rounds} rounds, contenders interleaved. Ratio = contender median / tasklife median "
        "(higher means tasklife is faster).\n",
        table(["contender", "µs per op", "x tasklife"], rows),
        "Parts of the tasklife op (same run):\n",
        table(["part", "µs"], [(f"`{k}`", v.spread(1e6)) for k, v in parts.items()]),
        "A bare action on a live task (µs per action, from pause/resume pairs):\n",
        table(
            ["contender", "µs per action"],
            [
                (f"`{k}`", Stats(tuple(x / 2 for x in v.values)).spread(1e6))
                for k, v in bare.items()
            ],
        ),
    ]
    machine = op["transitions, Machine per task"].median / ours
    verdicts = [
        Verdict("domain op, tasklife median", f"{ours * 1e6:.2f} µs", f"≤ {TARGET_US:g} µs",
                ours * 1e6 <= TARGET_US),
        Verdict("domain op vs transitions Machine per task", f"{machine:.2f}x",
                f"≥ {TARGET_VS_MACHINE:g}x", machine >= TARGET_VS_MACHINE),
    ]  # fmt: skip
    if "python-statemachine" in op:
        sm = op["python-statemachine"].median / ours
        verdicts.append(
            Verdict("domain op vs python-statemachine", f"{sm:.2f}x",
                    f"≥ {TARGET_VS_STATEMACHINE:g}x", sm >= TARGET_VS_STATEMACHINE)
        )  # fmt: skip
    else:
        verdicts.append(Verdict("domain op vs python-statemachine", f"not measured: {missing}",
                                f"≥ {TARGET_VS_STATEMACHINE:g}x", None))  # fmt: skip
    return Section("Domain: rehydrate + resume + to_dict", "\n".join(body), tuple(verdicts))
