"""What a Browser Use v1 call can answer besides success: the remote-call error tree.

::

    TaskLifeError
    ├── TransportError                      a call to the remote did not succeed
    │   ├── AuthError                       401/403, or no usable API key
    │   ├── TaskNotFound (LookupError)      404: no such task (for this key)
    │   ├── ActionRefused                   400/409: the remote refused the action
    │   ├── ValidationFailed (ValueError)   422: ``detail`` holds the v1 error list
    │   ├── RateLimited                     429: ``retry_after`` seconds, when the remote said
    │   ├── ServerError                     5xx
    │   ├── TransportTimeout (TimeoutError) a timeout, or the call's deadline passed
    │   ├── ConnectionFailed (ConnectionError) refused, reset or dropped connections
    │   │   └── TransportClosed             the transport was closed: nothing was sent
    │   └── ProtocolError                   an answer tasklife cannot read (bad JSON, nested
    │                                       too deep, too large, unknown status, wrong shape or
    │                                       content type, a date with no UTC equivalent, ...)
    └── WaitTimeout (TimeoutError)          ``wait()`` ran out of time before the status came

Every ``TransportError`` carries ``status_code`` (None when no response arrived), ``detail``
(the remote's ``detail``, a string or the 422 list), ``method``, ``path``, ``task_id`` (when
the call named one), ``retry_after`` and ``may_have_reached_server``: False means the request
surely took no effect (it was never sent, or the remote answered with a refusal), so it can be
retried or reported as a plain failure; True means it may have been acted on. The transports
and the server raise these same classes; no error ever holds or prints an API key.
"""

from __future__ import annotations

from typing import Any, Self

from tasklife.errors import TaskLifeError
from tasklife.lifecycle import TaskStatus

TASK_NOT_FOUND = "Task not found"
"""The ``detail`` of the v1 API's 404 for a task id it does not know (for this key)."""


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
        task_id: str | None = None,
    ) -> None:
        self.message = message
        self.status_code = status_code
        self.detail = detail
        self.method = method
        self.path = path
        self.may_have_reached_server = may_have_reached_server
        self.retry_after = retry_after
        self.task_id = task_id
        super().__init__(self._text())

    def _text(self) -> str:
        where = f"{self.method} {self.path}: " if self.method and self.path else ""
        code = f" (HTTP {self.status_code})" if self.status_code is not None else ""
        return f"{where}{self.message}{code}"


class AuthError(TransportError):
    """The remote refused the credentials (401/403), or no usable API key was given."""


class TaskNotFound(TransportError, LookupError):
    """The remote has no such task, or not for this API key (404)."""

    @classmethod
    def for_task(cls, task_id: str) -> Self:
        """The 404 for ``task_id``, as the v1 API answers it (``detail``: "Task not found")."""
        return cls(
            f"task {task_id!r} not found", status_code=404, detail=TASK_NOT_FOUND, task_id=task_id
        )


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


class TransportClosed(ConnectionFailed):
    """The transport was closed before the call: nothing was sent, and a retry cannot help."""


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
