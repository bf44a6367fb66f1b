"""The task lifecycle: statuses, actions and the one table that connects them.

``TABLE`` is the single source of truth. Everything else is derived from it: the
``transitions`` machine that executes each action (built once per process, never per
task), ``allowed_actions()``, the shortest paths used to reconcile with a remote status,
the Markdown table in the README and the pictures in ``diagrams/``.

The table is checked when this module is imported: every status is reachable from
``created``, terminal statuses have no exits, and no rule names an unknown status or action.
"""

from __future__ import annotations

import enum
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

import attrs
from transitions import EventData, Machine, State, Transition

from tasklife.errors import CannotResumeStoppedTask, InvalidTransition, TableError

if TYPE_CHECKING:
    from tasklife.task import Task, TransitionRecord

__all__ = [
    "LIFECYCLE",
    "TABLE",
    "Action",
    "Driver",
    "Lifecycle",
    "Listener",
    "Rule",
    "TaskStatus",
]


class TaskStatus(enum.StrEnum):
    """A task's status; the values are exactly the Browser Use v1 API's strings."""

    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    FINISHED = "finished"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        """True for ``stopped``, ``finished`` and ``failed``: nothing leaves them."""
        return self in _TERMINAL


_TERMINAL = frozenset({TaskStatus.STOPPED, TaskStatus.FINISHED, TaskStatus.FAILED})


class Action(enum.StrEnum):
    """Something that can happen to a task."""

    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    FINISH = "finish"
    FAIL = "fail"


Driver = Literal["client", "remote"]
"""Who performs an action: the API's client (a ``PUT`` request) or the remote service itself."""

Listener = Callable[["Task", "TransitionRecord"], None]
"""Called with the task and the record of each transition, after the transition is committed."""


@attrs.frozen
class Rule:
    """One row of the table: ``action`` moves a task from any of ``sources`` to ``dest``."""

    action: Action
    sources: tuple[TaskStatus, ...]
    dest: TaskStatus
    driver: Driver
    summary: str


_S = TaskStatus
TABLE: tuple[Rule, ...] = (
    Rule(Action.START, (_S.CREATED,), _S.RUNNING, "remote",
         "the service starts the task after run-task"),
    Rule(Action.PAUSE, (_S.RUNNING,), _S.PAUSED, "client",
         "PUT /api/v1/pause-task"),
    Rule(Action.RESUME, (_S.PAUSED,), _S.RUNNING, "client",
         "PUT /api/v1/resume-task; only from paused, it continues where it was paused"),
    Rule(Action.STOP, (_S.CREATED, _S.RUNNING, _S.PAUSED), _S.STOPPED, "client",
         "PUT /api/v1/stop-task; irreversible"),
    Rule(Action.FINISH, (_S.RUNNING,), _S.FINISHED, "remote",
         "the agent completed the task"),
    Rule(Action.FAIL, (_S.CREATED, _S.RUNNING, _S.PAUSED), _S.FAILED, "remote",
         "the service gave up on the task"),
)  # fmt: skip
"""The lifecycle tasklife commits to (see the README's table, which is generated from this)."""


class _State(State):
    """A machine state whose ``name`` and ``value`` are plain attributes.

    ``transitions.State`` recomputes ``name`` from the Enum member on every access; this
    computes it once.
    """

    name: str = ""  # shadows State.name (a property) so the instance attribute wins
    value: TaskStatus | str = ""

    def __init__(self, name: TaskStatus | str, *args: Any, **kwargs: Any) -> None:
        super().__init__(name, *args, **kwargs)
        self.name = name.name if isinstance(name, enum.Enum) else name
        self.value = name


class _Transition(Transition):
    """Executes a transition in the order ``transitions.Transition.execute`` does.

    Prepare callbacks, conditions (a failing one refuses), the machine's and the transition's
    before callbacks, the source's exit callbacks, the state change on the model, the dest's
    enter callbacks (and ``on_final`` for a final state), then the transition's and the
    machine's after callbacks. What it leaves out is the library's per-step debug logging and
    its repeated state look-ups, which were about half the cost of an action (see
    BENCHMARKS.md). ``tests/unit/test_lifecycle_transitions.py`` runs every rule on a stock
    ``transitions.Machine`` and on this one and compares the callbacks, their order and the
    result, so an upgrade of ``transitions`` that changes them fails loudly; the dependency is
    capped at the newest release that test passed on.
    """

    def execute(self, event_data: EventData) -> bool:
        machine = event_data.machine
        for func in self.prepare:
            machine.callback(func, event_data)
        for condition in self.conditions:
            if not condition.check(event_data):
                return False
        for func in (*machine.before_state_change, *self.before):
            machine.callback(func, event_data)
        if self.dest:
            self._change_state(event_data)
        for func in (*self.after, *machine.after_state_change):
            machine.callback(func, event_data)
        return True

    def _change_state(self, event_data: EventData) -> None:
        machine = event_data.machine
        source = machine.states[self.source]
        dest = machine.states[cast("str", self.dest)]
        for func in source.on_exit:
            machine.callback(func, event_data)
        setattr(event_data.model, machine.model_attribute, dest.value)  # = set_state, one model
        event_data.state = dest
        for func in dest.on_enter:
            machine.callback(func, event_data)
        if dest.final:
            machine.callbacks(machine.on_final, event_data)


class _Machine(Machine):
    """The lifecycle's machine: the state and transition classes above."""

    state_cls = _State
    transition_cls = _Transition


class Lifecycle:
    """A lifecycle table compiled into lookups, shortest paths and one ``transitions`` machine.

    ``LIFECYCLE`` is the process-wide instance every ``Task`` uses. The machine holds no
    models (``add_model`` would keep every task alive); each action is executed by firing the
    machine's event on the task, so the machine's conditions and callbacks run for it.
    """

    def __init__(self, table: Iterable[Rule], *, initial: TaskStatus = TaskStatus.CREATED) -> None:
        self.table: tuple[Rule, ...] = tuple(table)
        self.initial = initial
        _check(self.table, initial)
        self.terminal: frozenset[TaskStatus] = frozenset(
            s for s in TaskStatus if not any(s in r.sources for r in self.table)
        )
        self._targets: dict[tuple[TaskStatus, Action], TaskStatus] = {
            (src, r.action): r.dest for r in self.table for src in r.sources
        }
        self._allowed: dict[TaskStatus, tuple[Action, ...]] = {
            s: tuple(r.action for r in self.table if s in r.sources) for s in TaskStatus
        }
        self._paths = {
            (s, d): _shortest(self._targets, s, d) for s in TaskStatus for d in TaskStatus
        }
        self._ran_paths = dict(self._paths)
        running = self._targets.get((initial, Action.START))
        if running is not None:  # progress means the task ran: from created, go through start
            for d in TaskStatus:
                onward = self._paths[running, d]
                if d not in (initial, running) and onward is not None:
                    self._ran_paths[initial, d] = (Action.START, *onward)
        self._listeners: tuple[Listener, ...] = ()
        self._listeners_lock = threading.Lock()
        self.machine = _Machine(
            model=None,
            states=list(TaskStatus),
            initial=initial,
            transitions=[
                {
                    "trigger": r.action.value,
                    "source": list(r.sources),
                    "dest": r.dest,
                    "conditions": [_at_prepared_version],
                }
                for r in self.table
            ],
            auto_transitions=False,
            ignore_invalid_triggers=False,
            send_event=True,
            model_attribute="_status",
            after_state_change=[_record_transition],
        )
        self._steps = {
            (src, r.action): (
                self.machine.get_state(src),
                self.machine.events[r.action.value],
                self.machine.events[r.action.value].transitions[src.name][0],
            )
            for r in self.table
            for src in r.sources
        }

    def target(self, status: TaskStatus, action: Action) -> TaskStatus | None:
        """The status ``action`` leads to from ``status``, or None when the table forbids it."""
        return self._targets.get((status, action))

    def allowed_actions(self, status: TaskStatus) -> tuple[Action, ...]:
        """The actions the table allows from ``status``, in table order."""
        return self._allowed[status]

    def refusal(self, task_id: str, status: TaskStatus, action: Action) -> InvalidTransition | None:
        """What ``action`` from ``status`` means when the table forbids it.

        None for ``stop`` on a terminal status (already ended: an idempotent no-op);
        ``CannotResumeStoppedTask`` for ``resume`` of a stopped task; ``InvalidTransition``,
        naming the allowed actions, for everything else. Every refusal is decided here.
        """
        if action is Action.STOP and status in self.terminal:
            return None
        error = (
            CannotResumeStoppedTask
            if action is Action.RESUME and status is TaskStatus.STOPPED
            else InvalidTransition
        )
        return error(task_id, status, action, self._allowed[status])

    def path(
        self, source: TaskStatus, dest: TaskStatus, *, ran: bool = False
    ) -> tuple[Action, ...] | None:
        """The shortest sequence of actions from ``source`` to ``dest``; None if there is none.

        ``ran`` says the task has made progress (steps > 0): a task that took steps was
        started, so from the initial status the path goes through ``start`` (the one steps
        rule that ``reconcile``, observations and ``Task.from_remote`` share).
        """
        return (self._ran_paths if ran else self._paths)[source, dest]

    def fire(self, task: Task, action: Action, details: dict[str, object]) -> bool:
        """Execute ``action`` on ``task`` through the machine; False if its condition refused.

        The caller holds the task's lock and has checked the action against the table, so
        this goes straight to the machine's ``Transition`` for (status, action) rather than
        through ``Event.trigger``'s dispatch: its condition, its callbacks and the state change
        run as transitions runs them, without a second lookup. ``details`` reach them as the
        event's kwargs.
        """
        state, event, transition = self._steps[task._status, action]
        event_data = EventData(state, event, self.machine, task, (), details)
        event_data.transition = transition
        return bool(transition.execute(event_data))

    # listeners -------------------------------------------------------------------------

    @property
    def listeners(self) -> tuple[Listener, ...]:
        """The listeners that receive every task's transitions, in registration order."""
        return self._listeners

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` after every transition of every task; returns an unsubscriber."""
        return subscribed(self, self._listeners_lock, listener)

    # derived documents -----------------------------------------------------------------

    def markdown_table(self) -> str:
        """The table as Markdown, as the README shows it."""
        rows = ["| action | from | to | who |", "|---|---|---|---|"]
        for r in self.table:
            sources = ", ".join(s.value for s in r.sources)
            rows.append(f"| `{r.action}` | {sources} | {r.dest} | {r.driver}: {r.summary} |")
        terminal = ", ".join(s.value for s in TaskStatus if s in self.terminal)
        rows.append("")
        rows.append(f"Terminal (nothing leaves them): {terminal}.")
        return "\n".join(rows) + "\n"


class HasListeners(Protocol):
    """What ``subscribed`` adds to: an object whose listeners are one tuple."""

    _listeners: tuple[Listener, ...]


def subscribed(
    owner: HasListeners, lock: AbstractContextManager[object], listener: Listener
) -> Callable[[], None]:
    """Add ``listener`` to ``owner``'s listeners under ``lock``; return its unsubscriber.

    The tuple is replaced, never changed in place, so a transition that is calling the
    listeners it read goes on with those; the lifecycle and every task subscribe through this.
    """
    with lock:
        owner._listeners = (*owner._listeners, listener)

    def unsubscribe() -> None:
        with lock:
            owner._listeners = tuple(x for x in owner._listeners if x is not listener)

    return unsubscribe


def _at_prepared_version(event: EventData) -> bool:
    """The machine's guard: a transition prepared at version N applies only at version N."""
    task = cast("Task", event.model)
    return bool(len(task._history) == event.kwargs["version"])


def _record_transition(event: EventData) -> None:
    """The machine's ``after_state_change`` callback: hand the change back to the task."""
    cast("Task", event.model)._committed(event.kwargs)


def _check(table: tuple[Rule, ...], initial: TaskStatus) -> None:
    seen: set[tuple[TaskStatus, Action]] = set()
    for rule in table:
        for value, kind in ((rule.action, Action), (rule.dest, TaskStatus)):
            if not isinstance(value, kind):
                raise TableError(f"{rule!r}: {value!r} is not a {kind.__name__}")
        if not rule.sources:
            raise TableError(f"{rule!r}: no source status")
        for src in rule.sources:
            if not isinstance(src, TaskStatus):
                raise TableError(f"{rule!r}: {src!r} is not a TaskStatus")
            if src.is_terminal:
                raise TableError(f"{rule!r}: terminal status {src} must have no exits")
            if (src, rule.action) in seen:
                raise TableError(f"{rule!r}: {rule.action} from {src} is defined twice")
            seen.add((src, rule.action))
    targets = {(s, r.action): r.dest for r in table for s in r.sources}
    unreachable = [s for s in TaskStatus if s != initial and _shortest(targets, initial, s) is None]
    if unreachable:
        raise TableError(f"unreachable from {initial}: {', '.join(unreachable)}")


def _shortest(
    targets: Mapping[tuple[TaskStatus, Action], TaskStatus], source: TaskStatus, dest: TaskStatus
) -> tuple[Action, ...] | None:
    """Breadth-first search over the table; ties go to the earlier action in ``Action`` order."""
    queue: deque[tuple[TaskStatus, tuple[Action, ...]]] = deque([(source, ())])
    seen = {source}
    while queue:
        status, path = queue.popleft()
        if status == dest:
            return path
        for action in Action:
            nxt = targets.get((status, action))
            if nxt is not None and nxt not in seen:
                seen.add(nxt)
                queue.append((nxt, (*path, action)))
    return None


LIFECYCLE = Lifecycle(TABLE)
"""The process-wide lifecycle: one compiled table, one ``transitions`` machine."""
