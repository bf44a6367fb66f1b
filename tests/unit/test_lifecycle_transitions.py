"""``tasklife.lifecycle``'s ``_Transition`` executes a rule exactly as ``transitions`` does.

The lifecycle keeps its own ``Transition.execute`` (the library's, minus the per-step debug
logging and repeated look-ups). This test builds one stock ``transitions.Machine`` and one of
ours from the same configuration, with a recording callback on every hook a transition runs
(prepare, conditions, ``unless``, the machine's and the transition's before callbacks, the
source's exit, the dest's enter, ``on_final``, the after callbacks, and the event's prepare and
finalize around them), fires every rule of the table from every source on both, with the
conditions passing and failing, and compares the callbacks, their order, what each saw and the
result. An upgrade of ``transitions`` that changes any of it fails here; ``pyproject.toml``
caps the pin at the newest release this passed on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest
import transitions
from transitions import EventData, Machine

from tasklife.lifecycle import TABLE, Action, TaskStatus, _Machine

Seen = tuple[str, str, str, object]
CASES = [(rule.action, source) for rule in TABLE for source in rule.sources]


class Model:
    """A bare model; the machine keeps its state in ``state``."""

    state: object


def recorder(seen: list[Seen], hook: str, answer: bool | None = None) -> Callable[[EventData], Any]:
    """A callback noting the hook, the event's state, the transition and the model's state."""

    def record(event: EventData) -> bool | None:
        transition = event.transition
        moving = "" if transition is None else f"{transition.source}->{transition.dest}"
        seen.append((hook, str(event.state.name), moving, cast("Model", event.model).state))
        return answer

    return record


def run(
    kind: type[Machine], action: Action, source: TaskStatus, passes: bool, unless: bool
) -> tuple[list[Seen], bool, object]:
    """Fire ``action`` from ``source`` on a fresh machine of ``kind``; what it called, in order,
    its result and the model's state after it."""
    seen: list[Seen] = []
    rec = recorder
    states = [
        {"name": status, "on_enter": [rec(seen, f"enter:{status}")],
         "on_exit": [rec(seen, f"exit:{status}")], "final": status.is_terminal}
        for status in TaskStatus
    ]  # fmt: skip
    rules = [
        {"trigger": rule.action.value, "source": list(rule.sources), "dest": rule.dest,
         "prepare": [rec(seen, "prepare")], "conditions": [rec(seen, "condition", passes)],
         "unless": [rec(seen, "unless", unless)], "before": [rec(seen, "before")],
         "after": [rec(seen, "after")]}
        for rule in TABLE
    ]  # fmt: skip
    model = Model()
    kind(
        model=model, states=states, transitions=rules, initial=source, auto_transitions=False,
        send_event=True, before_state_change=[rec(seen, "machine.before")],
        after_state_change=[rec(seen, "machine.after")],
        prepare_event=[rec(seen, "prepare_event")], finalize_event=[rec(seen, "finalize_event")],
        on_final=[rec(seen, "on_final")],
    )  # fmt: skip
    result = getattr(model, action.value)()
    return seen, result, model.state


class TestTransitionsCompatibility:
    def test_the_installed_transitions_is_within_the_pin(self) -> None:
        """The pin's cap is the newest release this file passed on."""
        assert tuple(int(p) for p in transitions.__version__.split(".")[:3]) <= (0, 9, 3)

    @pytest.mark.parametrize(("action", "source"), CASES, ids=[f"{a}-from-{s}" for a, s in CASES])
    @pytest.mark.parametrize(
        ("passes", "unless"),
        [(True, False), (False, False), (True, True)],
        ids=["allowed", "condition-fails", "unless-holds"],
    )
    def test_same_callbacks_order_and_result(
        self, action: Action, source: TaskStatus, passes: bool, unless: bool
    ) -> None:
        """Ours calls the same callbacks as a stock Machine, in the same order, seeing the same
        states, and ends with the same result and model state."""
        stock = run(Machine, action, source, passes, unless)
        ours = run(_Machine, action, source, passes, unless)
        assert ours == stock
        seen, result, state = stock
        assert result is (passes and not unless)
        hooks = [hook for hook, *_ in seen]
        assert hooks[0] == "prepare_event"
        assert hooks[-1] == "finalize_event"
        if result:
            rule = next(r for r in TABLE if r.action is action)
            assert state is rule.dest
            assert hooks.index(f"exit:{source}") < hooks.index(f"enter:{rule.dest}")
        else:
            assert state is source
