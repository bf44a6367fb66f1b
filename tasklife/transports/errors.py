"""The errors a transport raises: every failure at the network boundary, typed.

::

    TaskLifeError
    ├── TransportError                    a call to the remote did not succeed
    │   ├── AuthError                     401/403, or no usable API key
    │   ├── TaskNotFound                  404: no such task (for this key)
    │   ├── ActionRefused                 400/409: the remote refused the action
    │   ├── ValidationFailed (ValueError) 422: ``detail`` holds the v1 error list
    │   ├── RateLimited                   429: ``retry_after`` seconds, when the remote said
    │   ├── ServerError                   5xx
    │   ├── TransportTimeout (TimeoutError) connect/read/write/pool timeout
    │   ├── ConnectionFailed (ConnectionError) refused, reset or dropped connections
    │   └── ProtocolError                 an answer tasklife cannot read (bad JSON, unknown
    │                                     status, wrong shape or content type, cut-short body)
    └── WaitTimeout (TimeoutError)        ``wait()`` ran out of time before the status came

Every ``TransportError`` carries ``status_code`` (None when no response arrived), ``detail``
(the remote's ``detail``, a string or the 422 list), ``method``, ``path`` and
``may_have_reached_server``: False means the request surely took no effect (it was never
sent, or the remote answered with a refusal), so it can be retried or reported as a plain
failure; True means it may have been acted on. No error ever holds or prints an API key.
"""

from __future__ import annotations

from typing import Any

from tasklife.errors import TaskLifeError
from tasklife.lifecycle import TaskStatus

__all__ = [
    "ActionRefused",
    "AuthError",
    "ConnectionFailed",
    "ProtocolError",
    "RateLimited",
    "ServerError",
    "TaskNotFound",
    "TransportError",
    "TransportTimeout",
    "ValidationFailed",
    "WaitTimeout",
]


class TransportError(TaskLifeError):
    """A call to the remote failed; ``may_have_reached_server`` says whether it may have acted."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        detail: Any = None,
        method: str | None = None,
        path: str | None = None,
        may_have_reached_server: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.status_code = status_code
        self.detail = detail
        self.method = method
        self.path = path
        self.may_have_reached_server = may_have_reached_server
        self.retry_after = retry_after
        super().__init__(self._text())

    def _text(self) -> str:
        where = f"{self.method} {self.path}: " if self.method and self.path else ""
        code = f" (HTTP {self.status_code})" if self.status_code is not None else ""
        return f"{where}{self.message}{code}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self._fields()))

    def _fields(self) -> dict[str, Any]:
        return {
            "status_code": self.status_code,
            "detail": self.detail,
            "method": self.method,
            "path": self.path,
            "may_have_reached_server": self.may_have_reached_server,
            "retry_after": self.retry_after,
        }


def _rebuild(cls: type[TransportError], message: str, fields: dict[str, Any]) -> TransportError:
    return cls(message, **fields)


class AuthError(TransportError):
    """The remote refused the credentials (401/403), or no usable API key was given."""


class TaskNotFound(TransportError):
    """The remote has no such task, or not for this API key (404)."""


class ActionRefused(TransportError):
    """The remote refused the action (400/409), e.g. resuming a task it has already stopped."""


class ValidationFailed(TransportError, ValueError):
    """The remote rejected the request's parameters (422); ``detail`` is the v1 error list."""


class RateLimited(TransportError):
    """Too many requests (429); ``retry_after`` is the wait the remote asked for, if any."""


class ServerError(TransportError):
    """The remote failed (5xx); a write may or may not have taken effect."""


class TransportTimeout(TransportError, TimeoutError):
    """No answer in time; a read or write timeout means the request may have reached it."""


class ConnectionFailed(TransportError, ConnectionError):
    """The connection could not be made, or broke before a complete answer came back."""


class ProtocolError(TransportError):
    """The remote answered with something tasklife cannot read: bad JSON, unknown status, ..."""


class WaitTimeout(TaskLifeError, TimeoutError):
    """``wait()`` gave up: ``timeout`` seconds passed and the task's ``status`` was not wanted."""

    def __init__(self, task_id: str, status: TaskStatus, timeout: float) -> None:
        self.task_id = task_id
        self.status = status
        self.timeout = timeout
        super().__init__(
            f"task {task_id!r} is still {status} after waiting {timeout:g} s; "
            "wait again, or stop it"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.task_id, self.status, self.timeout))
