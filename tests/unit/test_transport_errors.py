"""The transport error tree: fields, messages, pickling, and where each sits under TaskLifeError."""

from __future__ import annotations

import pickle

import pytest

from tasklife import TaskLifeError, TaskStatus, transports
from tasklife.transports import (
    ActionRefused,
    AuthError,
    ConnectionFailed,
    ProtocolError,
    RateLimited,
    ServerError,
    TaskNotFound,
    TransportError,
    TransportTimeout,
    ValidationFailed,
    WaitTimeout,
)

SUBCLASSES = [AuthError, TaskNotFound, ActionRefused, ValidationFailed, RateLimited, ServerError,
              TransportTimeout, ConnectionFailed, ProtocolError]  # fmt: skip


class TestTransportErrors:
    @pytest.mark.parametrize("cls", SUBCLASSES, ids=lambda c: c.__name__)
    def test_tree(self, cls: type[TransportError]) -> None:
        """Every transport error is a TransportError, hence a TaskLifeError."""
        assert issubclass(cls, TransportError)
        assert issubclass(TransportError, TaskLifeError)

    @pytest.mark.parametrize(
        ("cls", "builtin"),
        [(TransportTimeout, TimeoutError), (ConnectionFailed, ConnectionError),
         (ValidationFailed, ValueError), (WaitTimeout, TimeoutError)],
        ids=lambda v: v.__name__,
    )  # fmt: skip
    def test_builtin_bases(self, cls: type[Exception], builtin: type[Exception]) -> None:
        """Where the meaning fits, the builtin is a base too."""
        assert issubclass(cls, builtin)

    @pytest.mark.parametrize("cls", SUBCLASSES, ids=lambda c: c.__name__)
    def test_fields_survive_pickling(self, cls: type[TransportError]) -> None:
        """status_code, detail, method, path, the flag and retry_after round-trip."""
        error = cls("m", status_code=422, detail=[{"loc": ["q"]}], method="PUT", path="/p",
                    may_have_reached_server=True, retry_after=2.0)  # fmt: skip
        copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
        assert (type(copy), str(copy), copy._fields()) == (cls, str(error), error._fields())

    def test_message_names_method_path_and_status(self) -> None:
        """str() says what was asked and what came back."""
        error = ServerError("boom", status_code=503, method="GET", path="/api/v1/tasks")
        assert str(error) == "GET /api/v1/tasks: boom (HTTP 503)"

    def test_wait_timeout(self) -> None:
        """WaitTimeout names the task, its status and the time waited; it pickles."""
        error = WaitTimeout("task_1", TaskStatus.PAUSED, 30)
        assert "task_1" in str(error)
        assert "paused" in str(error)
        assert str(pickle.loads(pickle.dumps(error))) == str(error)  # noqa: S301 - our own bytes


class TestPublicSurface:
    def test_all_resolves(self) -> None:
        """Every name in tasklife.transports.__all__ resolves (the httpx ones lazily)."""
        assert all(getattr(transports, name) is not None for name in transports.__all__)

    def test_unknown_names_raise_attribute_error(self) -> None:
        """The lazy __getattr__ does not swallow typos."""
        with pytest.raises(AttributeError):
            transports.BrowserUseTransprt  # noqa: B018
