"""A local Browser Use Cloud API v1-compatible server built only on the tasklife domain core.

Needs the ``server`` extra (FastAPI and uvicorn). ``create_app(store, api_keys)`` returns a
FastAPI app another service can mount; ``tasklife serve`` runs it with uvicorn, and
``tasklife demo`` runs it in-process. Every state change is a ``tasklife.Task`` action on a
task loaded from the ``tasklife.store`` and saved back (see ``tasklife.server.service``).
"""

from tasklife.server.app import RunTaskRequest, create_app, key_fingerprint
from tasklife.server.runner import BackgroundServer, ServerNotReady
from tasklife.server.service import TaskNotFound, TaskService, Ticker

__all__ = [
    "BackgroundServer",
    "RunTaskRequest",
    "ServerNotReady",
    "TaskNotFound",
    "TaskService",
    "Ticker",
    "create_app",
    "key_fingerprint",
]
