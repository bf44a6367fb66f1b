"""Transports: push lifecycle actions to a remote task service and read its view back.

- Ports: ``Transport`` and ``AsyncTransport`` (``typing.Protocol``).
- Adapters: ``InMemoryTransport`` / ``AsyncInMemoryTransport`` (for your tests, no network)
  and ``BrowserUseTransport`` / ``AsyncBrowserUseTransport`` (the Browser Use Cloud API v1
  over httpx; they need ``pip install 'tasklife[http]'`` and are imported on first use, so
  ``import tasklife.transports`` works without httpx).
- Remote first: ``RemoteTask`` / ``AsyncRemoteTask`` bind a local ``Task`` to a transport.
- Retries: ``RetryPolicy``.
- The records (``TaskView``, ``TaskPage``, ...) and the errors (``TransportError`` and its
  subclasses, ``WaitTimeout``) are the v1 contract's, ``tasklife.v1``, re-exported here.

The multi-step logic (retries, pushes and their read-backs, refresh, wait, create, attach) is
written once as flows (``tasklife.transports.flow``) that a blocking and an asyncio driver run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tasklife.transports.base import CLIENT_ACTIONS, AsyncTransport, Transport
from tasklife.transports.memory import AsyncInMemoryTransport, InMemoryTransport, RemoteRecord
from tasklife.transports.remote import AsyncRemoteTask, RemoteTask
from tasklife.transports.retry import RetryPolicy
from tasklife.v1 import (
    ActionRefused,
    AuthError,
    ConnectionFailed,
    ProtocolError,
    RateLimited,
    RemoteStep,
    ServerError,
    TaskNotFound,
    TaskPage,
    TaskSummary,
    TaskView,
    TransportClosed,
    TransportError,
    TransportTimeout,
    ValidationFailed,
    WaitTimeout,
)

if TYPE_CHECKING:
    from tasklife.transports.http import AsyncBrowserUseTransport, BrowserUseTransport

__all__ = [
    "CLIENT_ACTIONS",
    "ActionRefused",
    "AsyncBrowserUseTransport",
    "AsyncInMemoryTransport",
    "AsyncRemoteTask",
    "AsyncTransport",
    "AuthError",
    "BrowserUseTransport",
    "ConnectionFailed",
    "InMemoryTransport",
    "ProtocolError",
    "RateLimited",
    "RemoteRecord",
    "RemoteStep",
    "RemoteTask",
    "RetryPolicy",
    "ServerError",
    "TaskNotFound",
    "TaskPage",
    "TaskSummary",
    "TaskView",
    "Transport",
    "TransportClosed",
    "TransportError",
    "TransportTimeout",
    "ValidationFailed",
    "WaitTimeout",
]

_HTTP = frozenset({"BrowserUseTransport", "AsyncBrowserUseTransport"})


def __getattr__(name: str) -> Any:
    """Import the httpx adapters on first use (they need the ``http`` extra)."""
    if name in _HTTP:
        from tasklife.transports import http  # noqa: PLC0415 - optional dependency

        return getattr(http, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
