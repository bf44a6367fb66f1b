"""Where tasks live between requests: the local server's ``EmulatorStore`` and its SQLite adapter.

``import tasklife`` never imports this package (it loads ``sqlite3``). The emulator store keeps
each task's full ``tasklife.Task`` (status, steps, every ``TransitionRecord``) together with the
Browser Use v1 fields the domain core does not hold (the task text, output, metadata, ...),
wrapped in a ``StoredTask``. Saves are optimistic: a save based on a stale revision raises
``StoreConflict`` and changes nothing.

Errors added under ``TaskLifeError``::

    TaskLifeError
    └── StoreError                      the store could not do what was asked
        ├── StoreConflict (TaskConflict)  a save based on a stale revision; nothing was written
        └── StoreCorruption             a stored row does not describe a valid task
"""

from tasklife.store.base import StoreConflict, StoreCorruption, StoreError
from tasklife.store.emulator import (
    EmulatorPage,
    EmulatorStore,
    EmulatorSummary,
    SQLiteEmulatorStore,
    StoredTask,
)

__all__ = [
    "EmulatorPage",
    "EmulatorStore",
    "EmulatorSummary",
    "SQLiteEmulatorStore",
    "StoreConflict",
    "StoreCorruption",
    "StoreError",
    "StoredTask",
]
