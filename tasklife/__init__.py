"""tasklife: the lifecycle of a remote browser-automation task, as a pure, typed domain core.

``import tasklife`` loads only the domain (``attrs`` and ``transitions``); HTTP transports and
the local server live behind the ``http`` and ``server`` extras.
"""

import importlib.metadata

from tasklife.errors import (
    CannotResumeStoppedTask,
    InvalidArgument,
    InvalidTaskData,
    InvalidTransition,
    ListenerError,
    ReconcileConflict,
    StaleTransition,
    TableError,
    TaskConflict,
    TaskLifeError,
    TaskNotRunning,
)
from tasklife.layout import RecordDict, TaskDict
from tasklife.lifecycle import LIFECYCLE, TABLE, Action, Lifecycle, Listener, Rule, TaskStatus
from tasklife.observation import (
    DEFAULT_SKEW,
    Observation,
    ObservationOutcome,
    ObservationResult,
)
from tasklife.task import (
    Clock,
    Origin,
    PreparedTransition,
    Task,
    TransitionRecord,
    utc_now,
)

try:
    __version__ = importlib.metadata.version("tasklife")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover - an uninstalled source tree
    __version__ = "0+unknown"

__all__ = [
    "DEFAULT_SKEW",
    "LIFECYCLE",
    "TABLE",
    "Action",
    "CannotResumeStoppedTask",
    "Clock",
    "InvalidArgument",
    "InvalidTaskData",
    "InvalidTransition",
    "Lifecycle",
    "Listener",
    "ListenerError",
    "Observation",
    "ObservationOutcome",
    "ObservationResult",
    "Origin",
    "PreparedTransition",
    "ReconcileConflict",
    "RecordDict",
    "Rule",
    "StaleTransition",
    "TableError",
    "Task",
    "TaskConflict",
    "TaskDict",
    "TaskLifeError",
    "TaskNotRunning",
    "TaskStatus",
    "TransitionRecord",
    "__version__",
    "utc_now",
]
