"""A local Browser Use Cloud API v1-compatible server: the HTTP entry point of tasklife.

Needs the ``server`` extra (FastAPI and uvicorn). ``create_app(store, api_keys)`` returns a
FastAPI app another service can mount (``store``: a ``SQLiteTaskStore`` or a
``PostgresTaskStore``); ``tasklife serve`` runs it with uvicorn, and ``tasklife demo`` runs it
in-process. ``webhook_router(receiver)`` is a router any FastAPI app can mount to receive
Browser Use webhooks (see ``tasklife.server.receiving``). The app is a thin shell over the
service layer, ``tasklife.service`` (``TaskService``, ``Ticker``), which imports no web
framework; those names are re-exported here.
"""

try:
    import fastapi  # noqa: F401 - checked here so every submodule says which extra is missing
    import httpx  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as error:
    raise ImportError(
        f"tasklife's server needs FastAPI, uvicorn and httpx ({error.name} is missing): "
        "pip install 'tasklife[server]'",
        name=error.name,
    ) from error

from tasklife.server.app import RunTaskRequest, create_app, key_fingerprint
from tasklife.server.receiving import (
    DEFAULT_WEBHOOK_PATH,
    receipt_json,
    webhook_app,
    webhook_router,
)
from tasklife.server.runner import BackgroundServer, ServerNotReady
from tasklife.service import TaskService, Ticker
from tasklife.v1 import TaskNotFound

__all__ = [
    "DEFAULT_WEBHOOK_PATH",
    "BackgroundServer",
    "RunTaskRequest",
    "ServerNotReady",
    "TaskNotFound",
    "TaskService",
    "Ticker",
    "create_app",
    "key_fingerprint",
    "receipt_json",
    "webhook_app",
    "webhook_router",
]
