"""A local Browser Use Cloud API v1-compatible server: the HTTP entry point of tasklife.

Needs the ``server`` extra (FastAPI and uvicorn). ``create_app(store, api_keys)`` returns a
FastAPI app another service can mount; ``tasklife serve`` runs it with uvicorn, and
``tasklife demo`` runs it in-process. The app is a thin shell over the service layer,
``tasklife.service`` (``TaskService``, ``Ticker``), which imports no web framework; those names
are re-exported here.
"""

from tasklife.server.app import RunTaskRequest, create_app, key_fingerprint
from tasklife.server.runner import BackgroundServer, ServerNotReady
from tasklife.service import TaskNotFound, TaskService, Ticker

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
