"""``BrowserUseTransport`` and ``AsyncBrowserUseTransport``: the Browser Use Cloud API v1 on httpx.

Needs the ``http`` extra (``pip install 'tasklife[http]'``). One ``httpx.Client`` (or
``AsyncClient``) per transport, built once and reused for every call, so connections are
kept alive; pass your own with ``client=`` (the transport then does not close it).

Security: the API key comes from ``api_key=`` or ``BROWSER_USE_API_KEY`` and is only ever
put in the ``Authorization`` header; no repr, message or log line contains it. ``http://``
is refused unless the host is a loopback address or ``allow_insecure_http=True``. TLS
verification is httpx's default (on) and there is no switch to turn it off. Task ids are
checked with ``tasklife.task.check_id`` and percent-encoded (``quote(id, safe="")``), so no
id can change the request's path or query.

Every httpx exception is translated (``map_httpx_error``) and every non-200 answer is mapped
to a ``TransportError`` subclass; retries follow ``tasklife.transports.retry.RetryPolicy``.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import logging
import os
import ssl
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import quote, urlsplit

try:
    import httpx
except ImportError as error:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "tasklife's HTTP transports need httpx: pip install 'tasklife[http]'"
    ) from error

from tasklife.errors import InvalidTaskData
from tasklife.lifecycle import Action, TaskStatus
from tasklife.task import check_id
from tasklife.transports.base import CLIENT_ACTIONS
from tasklife.transports.errors import (
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
)
from tasklife.transports.retry import RetryPolicy, parse_retry_after
from tasklife.transports.views import (
    TaskPage,
    TaskView,
    parse_created,
    parse_page,
    parse_status,
    parse_task_view,
    run_task_body,
)

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "AsyncBrowserUseTransport",
    "BrowserUseTransport",
    "map_httpx_error",
]

log = logging.getLogger("tasklife.transports")

DEFAULT_BASE_URL: Final = "https://api.browser-use.com"
API_KEY_ENV: Final = "BROWSER_USE_API_KEY"
DEFAULT_TIMEOUT: Final = 30.0
"""Seconds for each of connect, read, write and pool (httpx's ``Timeout(30.0)``)."""

_ACTION_PATHS: Final = {a: f"/api/v1/{a.value}-task" for a in CLIENT_ACTIONS}
_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain"})

# httpx exception -> (tasklife error, may the request have reached the server?).
# Looked up along the exception's MRO, so every subclass httpx adds later is still mapped.
_HTTPX_ERRORS: Final[dict[type[Exception], tuple[type[TransportError], bool, str]]] = {
    httpx.ConnectTimeout: (TransportTimeout, False, "timed out connecting"),
    httpx.PoolTimeout: (TransportTimeout, False, "timed out waiting for a free connection"),
    httpx.ReadTimeout: (TransportTimeout, True, "timed out waiting for the answer"),
    httpx.WriteTimeout: (TransportTimeout, True, "timed out sending the request"),
    httpx.TimeoutException: (TransportTimeout, True, "timed out"),
    httpx.ConnectError: (ConnectionFailed, False, "could not connect"),
    httpx.ProxyError: (ConnectionFailed, False, "the proxy refused the connection"),
    httpx.ReadError: (ConnectionFailed, True, "the connection broke while reading the answer"),
    httpx.WriteError: (ConnectionFailed, True, "the connection broke while sending"),
    httpx.CloseError: (ConnectionFailed, True, "the connection broke while closing"),
    httpx.RemoteProtocolError: (
        ConnectionFailed,
        True,
        "the server closed the connection without a complete answer",
    ),
    httpx.NetworkError: (ConnectionFailed, True, "the connection failed"),
    httpx.LocalProtocolError: (ProtocolError, False, "the request could not be sent"),
    httpx.ProtocolError: (ProtocolError, True, "HTTP protocol violation"),
    httpx.UnsupportedProtocol: (ProtocolError, False, "unsupported URL scheme"),
    httpx.DecodingError: (ProtocolError, True, "the response body could not be decoded"),
    httpx.TooManyRedirects: (ProtocolError, True, "too many redirects"),
    httpx.HTTPStatusError: (ServerError, True, "unexpected HTTP status"),
    httpx.TransportError: (ConnectionFailed, True, "the request failed"),
    httpx.RequestError: (ConnectionFailed, True, "the request failed"),
    httpx.HTTPError: (TransportError, True, "the request failed"),
    httpx.InvalidURL: (ProtocolError, False, "invalid URL"),
    httpx.CookieConflict: (ProtocolError, False, "conflicting cookies"),
    httpx.StreamError: (ProtocolError, False, "the response stream was misused"),
}


def map_httpx_error(
    error: BaseException,
    method: str | None = None,
    path: str | None = None,
    *,
    secret: str | None = None,
) -> TransportError:
    """The tasklife error for an httpx exception (any class httpx defines, or its subclasses).

    The message keeps httpx's own words (``[Errno 111] Connection refused``) but never
    ``secret``. An exception httpx does not define becomes ``ConnectionFailed``.
    """
    for kind in type(error).__mro__:
        found = _HTTPX_ERRORS.get(kind)
        if found is not None:
            cls, reached, what = found
            break
    else:
        cls, reached, what = ConnectionFailed, True, "the request failed"
    if isinstance(error, httpx.HTTPStatusError):
        return _status_error(error.response, method or "", path or "", secret)
    said = str(error)
    if secret:
        said = said.replace(secret, "***")
    message = f"{what}: {said}" if said else what
    return cls(
        message,
        method=method,
        path=path,
        may_have_reached_server=reached,
    )


def _status_error(
    response: httpx.Response, method: str, path: str, secret: str | None
) -> TransportError:
    """The typed error for a non-200 answer (``secret`` redacted if the body echoes it)."""
    code = response.status_code
    detail = _redact(_detail(response), secret) if secret else _detail(response)
    text = detail if isinstance(detail, str) else None
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    cls: type[TransportError]
    reached = False
    if code in (401, 403):
        cls, message = AuthError, text or "the API key was refused"
    elif code == 404:
        cls, message = TaskNotFound, text or "not found"
    elif code in (400, 409):
        cls, message = ActionRefused, text or "the remote refused the action"
    elif code == 422:
        cls, message = ValidationFailed, "the remote rejected the parameters: " + _loc(detail)
    elif code == 429:
        cls, message = RateLimited, text or "rate limited"
    elif 500 <= code <= 599:
        cls, message, reached = ServerError, text or "the server failed", True
    elif 200 <= code <= 299:
        cls, message, reached = ProtocolError, f"unexpected success status {code}", True
    else:
        cls, message = TransportError, text or "unexpected HTTP status"
    return cls(
        message[:500],
        status_code=code,
        detail=detail,
        method=method,
        path=path,
        may_have_reached_server=reached,
        retry_after=retry_after,
    )


def _redact(value: Any, secret: str) -> Any:
    """``value`` with every occurrence of ``secret`` in its strings replaced by ``***``."""
    if isinstance(value, str):
        return value.replace(secret, "***")
    if isinstance(value, list):
        return [_redact(v, secret) for v in value]
    if isinstance(value, dict):
        return {_redact(k, secret): _redact(v, secret) for k, v in value.items()}
    return value


def _detail(response: httpx.Response) -> Any:
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    return body.get("detail") if isinstance(body, dict) else None


def _loc(detail: Any) -> str:
    if not isinstance(detail, list):
        return str(detail)[:200]
    parts = []
    for item in detail[:5]:
        if isinstance(item, dict):
            loc = ".".join(str(x) for x in item.get("loc", ()) if isinstance(x, str | int))
            parts.append(f"{loc}: {item.get('msg', '?')}")
    return "; ".join(parts) or "see detail"


@functools.cache
def _tls() -> ssl.SSLContext:
    """httpx's default verifying TLS context, built once per process and shared.

    Building one loads the CA bundle (tens of milliseconds); every transport would
    otherwise pay that in its constructor. Verification stays on: this is httpx's default.
    """
    create = getattr(httpx, "create_ssl_context", None)  # public since httpx 0.28
    if create is not None:
        context: ssl.SSLContext = create()
        return context
    import certifi  # noqa: PLC0415 - httpx < 0.28 depends on it and loads it the same way

    return ssl.create_default_context(cafile=certifi.where())


def _check_base_url(base_url: str, allow_insecure_http: bool) -> str:
    if not isinstance(base_url, str):
        raise InvalidTaskData("base_url", f"must be a string, not {type(base_url).__name__}")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidTaskData("base_url", f"must be an http(s) URL with a host: {base_url!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise InvalidTaskData("base_url", "must not hold a query, a fragment or credentials")
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
        raise InvalidTaskData(
            "base_url",
            f"refusing plain http:// to {parts.hostname} (the API key would travel "
            "unencrypted); use https://, or pass allow_insecure_http=True",
        )
    return base_url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_key(api_key: object) -> str:
    key = os.environ.get(API_KEY_ENV) if api_key is None else api_key
    if not key:
        raise AuthError(f"no API key: pass api_key= or set {API_KEY_ENV}")
    if not isinstance(key, str) or not key.isprintable() or key != key.strip() or " " in key:
        raise AuthError("the API key must be one printable token without spaces")
    return key


def _quote_id(task_id: str) -> str:
    return quote(check_id(task_id, "task_id"), safe="")


def _check_page(page: int, limit: int) -> None:
    if type(page) is not int or page < 1:
        raise InvalidTaskData("page", f"must be an int >= 1, not {page!r}")
    if type(limit) is not int or not 1 <= limit <= 100:
        raise InvalidTaskData("limit", f"must be an int from 1 to 100, not {limit!r}")


def _push_path(task_id: str, action: Action) -> str:
    path = _ACTION_PATHS.get(action)
    if path is None:
        action = Action(action)
        path = _ACTION_PATHS.get(action)
        if path is None:
            raise InvalidTaskData("action", f"{action} is the remote's; push pause, resume or stop")
    return f"{path}?task_id={_quote_id(task_id)}"


class _Common:
    """What the sync and async transports share: configuration, URLs, answer checking."""

    __slots__ = ("_base", "_client", "_headers", "_key", "_owns", "_retry", "base_url")

    def _setup(
        self,
        api_key: str | None,
        base_url: str,
        retry: RetryPolicy | None,
        allow_insecure_http: bool,
    ) -> None:
        self._key = _check_key(api_key)
        self.base_url = _check_base_url(base_url, allow_insecure_http)
        self._base = self.base_url
        self._headers: dict[str, str] | None = {"Authorization": f"Bearer {self._key}"}
        self._retry = RetryPolicy() if retry is None else retry

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def _error(self, error: BaseException, method: str, path: str) -> TransportError:
        if isinstance(error, RuntimeError):  # httpx: "the client has been closed"
            return ConnectionFailed(
                "the transport is closed", method=method, path=path, may_have_reached_server=False
            )
        return map_httpx_error(error, method, _shown(path), secret=self._key)

    def _json(self, response: httpx.Response, method: str, path: str) -> Any:
        if response.status_code != 200:
            raise _status_error(response, method, _shown(path), self._key)
        kind = response.headers.get("content-type", "")
        if not kind.startswith("application/json"):
            raise ProtocolError(
                f"expected a JSON answer, got content type {kind[:60]!r}",
                status_code=200, method=method, path=_shown(path), may_have_reached_server=True,
            )  # fmt: skip
        try:
            return json.loads(response.content)
        except ValueError:
            raise ProtocolError(
                "the answer is not valid JSON",
                status_code=200, method=method, path=_shown(path), may_have_reached_server=True,
            ) from None  # fmt: skip

    @staticmethod
    def _shaped(error: ProtocolError, method: str, path: str) -> ProtocolError:
        error.method, error.path, error.status_code = method, _shown(path), 200
        error.args = (error._text(),)
        return error


def _cut_short(
    error: httpx.HTTPError, response: httpx.Response, method: str, path: str
) -> TransportError:
    """A failure while reading the body: the status line came, the whole answer did not."""
    cls: type[TransportError] = (
        TransportTimeout if isinstance(error, httpx.TimeoutException) else ProtocolError
    )
    return cls(
        f"the answer was cut short ({type(error).__name__}: {error})",
        status_code=response.status_code,
        method=method,
        path=_shown(path),
        may_have_reached_server=True,
    )


def _shown(path: str) -> str:
    """The path for error messages: without the query (its values are the caller's ids)."""
    return path.split("?", 1)[0]


class BrowserUseTransport(_Common):
    """A blocking ``Transport`` for the Browser Use Cloud API v1 (see the module docstring).

    ``timeout`` is seconds (or an ``httpx.Timeout``) for the client it builds; with
    ``client=`` the client's own settings apply and only its pool is used.
    """

    __slots__ = ()

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        client: httpx.Client | None = None,
        allow_insecure_http: bool = False,
    ) -> None:
        self._setup(api_key, base_url, retry, allow_insecure_http)
        self._owns = client is None
        if client is None:
            client = httpx.Client(timeout=timeout, headers=self._headers, verify=_tls())
            self._headers = None  # the client sends it: no per-request header merge
        self._client = client

    # the Transport port ----------------------------------------------------------------

    def push(self, task_id: str, action: Action) -> None:
        """``PUT /api/v1/{pause,resume,stop}-task?task_id=`` (answer: 200 ``{}``)."""
        self._call("PUT", _push_path(task_id, action), None, write=True)

    def pause(self, task_id: str) -> None:
        """Push ``pause`` for ``task_id``."""
        self._call("PUT", _push_path(task_id, Action.PAUSE), None, write=True)

    def resume(self, task_id: str) -> None:
        """Push ``resume`` for ``task_id``."""
        self._call("PUT", _push_path(task_id, Action.RESUME), None, write=True)

    def stop(self, task_id: str) -> None:
        """Push ``stop`` for ``task_id``."""
        self._call("PUT", _push_path(task_id, Action.STOP), None, write=True)

    def get_task(self, task_id: str) -> TaskView:
        """``GET /api/v1/task/{task_id}``: the v1 task view."""
        path = f"/api/v1/task/{_quote_id(task_id)}"
        body = self._call("GET", path, None, write=False)
        try:
            return parse_task_view(body)
        except ProtocolError as error:
            raise self._shaped(error, "GET", path) from None

    def get_status(self, task_id: str) -> TaskStatus:
        """``GET /api/v1/task/{task_id}/status``: the bare status string."""
        path = f"/api/v1/task/{_quote_id(task_id)}/status"
        body = self._call("GET", path, None, write=False)
        try:
            return parse_status(body)
        except ProtocolError as error:
            raise self._shaped(error, "GET", path) from None

    def list_tasks(self, *, page: int = 1, limit: int = 10) -> TaskPage:
        """``GET /api/v1/tasks?page=&limit=``: one page, newest first."""
        _check_page(page, limit)
        path = f"/api/v1/tasks?page={page}&limit={limit}"
        body = self._call("GET", path, None, write=False)
        try:
            return parse_page(body)
        except ProtocolError as error:
            raise self._shaped(error, "GET", path) from None

    def run_task(
        self,
        task: str,
        *,
        llm_model: str | None = None,
        max_agent_steps: int | None = None,
        metadata: Mapping[str, str] | None = None,
        allowed_domains: Sequence[str] | None = None,
        secrets: Mapping[str, str] | None = None,
    ) -> str:
        """``POST /api/v1/run-task``: create a task; returns its id.

        Not retried after an ambiguous failure: a task may then exist (``list_tasks``).
        """
        body = run_task_body(
            task, llm_model=llm_model, max_agent_steps=max_agent_steps, metadata=metadata,
            allowed_domains=allowed_domains, secrets=secrets,
        )  # fmt: skip
        answer = self._call("POST", "/api/v1/run-task", body, write=True)
        try:
            return parse_created(answer)
        except ProtocolError as error:
            raise self._shaped(error, "POST", "/api/v1/run-task") from None

    def close(self) -> None:
        """Close the connection pool (only when this transport built the client)."""
        if self._owns:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # internals -------------------------------------------------------------------------

    def _send(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        """One attempt: the decoded JSON answer, or a ``TransportError``."""
        client = self._client
        try:
            request = client.build_request(
                method, self._base + path, headers=self._headers, json=body
            )
            response = client.send(request, stream=True)
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, RuntimeError) as error:
            raise self._error(error, method, path) from None
        try:
            response.read()
        except httpx.HTTPError as error:
            raise _cut_short(error, response, method, path) from None
        finally:
            response.close()
        return self._json(response, method, path)

    def _call(self, method: str, path: str, body: dict[str, Any] | None, *, write: bool) -> Any:
        try:
            return self._send(method, path, body)
        except TransportError as error:
            failure = error
        retry = self._retry
        started = retry.monotonic()
        attempt = 0
        while True:
            delay = retry.delay(
                failure, write=write, retry=attempt, elapsed=retry.monotonic() - started
            )
            if delay is None:
                raise failure
            attempt += 1
            log.info(
                "retrying %s %s in %.2f s (attempt %d of %d) after: %s",
                method, _shown(path), delay, attempt + 1, retry.max_attempts, failure.message,
            )  # fmt: skip
            retry.sleep(delay)
            try:
                return self._send(method, path, body)
            except TransportError as error:
                failure = error


class AsyncBrowserUseTransport(_Common):
    """The asyncio twin of ``BrowserUseTransport`` (an ``AsyncTransport``), on one AsyncClient."""

    __slots__ = ()

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        client: httpx.AsyncClient | None = None,
        allow_insecure_http: bool = False,
    ) -> None:
        self._setup(api_key, base_url, retry, allow_insecure_http)
        self._owns = client is None
        if client is None:
            client = httpx.AsyncClient(timeout=timeout, headers=self._headers, verify=_tls())
            self._headers = None  # the client sends it: no per-request header merge
        self._client = client

    async def push(self, task_id: str, action: Action) -> None:
        """``PUT /api/v1/{pause,resume,stop}-task?task_id=`` (answer: 200 ``{}``)."""
        await self._call("PUT", _push_path(task_id, action), None, write=True)

    async def pause(self, task_id: str) -> None:
        """Push ``pause`` for ``task_id``."""
        await self._call("PUT", _push_path(task_id, Action.PAUSE), None, write=True)

    async def resume(self, task_id: str) -> None:
        """Push ``resume`` for ``task_id``."""
        await self._call("PUT", _push_path(task_id, Action.RESUME), None, write=True)

    async def stop(self, task_id: str) -> None:
        """Push ``stop`` for ``task_id``."""
        await self._call("PUT", _push_path(task_id, Action.STOP), None, write=True)

    async def get_task(self, task_id: str) -> TaskView:
        """``GET /api/v1/task/{task_id}``: the v1 task view."""
        path = f"/api/v1/task/{_quote_id(task_id)}"
        body = await self._call("GET", path, None, write=False)
        try:
            return parse_task_view(body)
        except ProtocolError as error:
            raise self._shaped(error, "GET", path) from None

    async def get_status(self, task_id: str) -> TaskStatus:
        """``GET /api/v1/task/{task_id}/status``: the bare status string."""
        path = f"/api/v1/task/{_quote_id(task_id)}/status"
        body = await self._call("GET", path, None, write=False)
        try:
            return parse_status(body)
        except ProtocolError as error:
            raise self._shaped(error, "GET", path) from None

    async def list_tasks(self, *, page: int = 1, limit: int = 10) -> TaskPage:
        """``GET /api/v1/tasks?page=&limit=``: one page, newest first."""
        _check_page(page, limit)
        path = f"/api/v1/tasks?page={page}&limit={limit}"
        body = await self._call("GET", path, None, write=False)
        try:
            return parse_page(body)
        except ProtocolError as error:
            raise self._shaped(error, "GET", path) from None

    async def run_task(
        self,
        task: str,
        *,
        llm_model: str | None = None,
        max_agent_steps: int | None = None,
        metadata: Mapping[str, str] | None = None,
        allowed_domains: Sequence[str] | None = None,
        secrets: Mapping[str, str] | None = None,
    ) -> str:
        """``POST /api/v1/run-task``: create a task; returns its id."""
        body = run_task_body(
            task, llm_model=llm_model, max_agent_steps=max_agent_steps, metadata=metadata,
            allowed_domains=allowed_domains, secrets=secrets,
        )  # fmt: skip
        answer = await self._call("POST", "/api/v1/run-task", body, write=True)
        try:
            return parse_created(answer)
        except ProtocolError as error:
            raise self._shaped(error, "POST", "/api/v1/run-task") from None

    async def close(self) -> None:
        """Close the connection pool (only when this transport built the client)."""
        if self._owns:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _send(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        client = self._client
        try:
            request = client.build_request(
                method, self._base + path, headers=self._headers, json=body
            )
            response = await client.send(request, stream=True)
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, RuntimeError) as error:
            raise self._error(error, method, path) from None
        try:
            await response.aread()
        except httpx.HTTPError as error:
            raise _cut_short(error, response, method, path) from None
        finally:
            await response.aclose()
        return self._json(response, method, path)

    async def _call(
        self, method: str, path: str, body: dict[str, Any] | None, *, write: bool
    ) -> Any:
        try:
            return await self._send(method, path, body)
        except TransportError as error:
            failure = error
        retry = self._retry
        started = retry.monotonic()
        attempt = 0
        while True:
            delay = retry.delay(
                failure, write=write, retry=attempt, elapsed=retry.monotonic() - started
            )
            if delay is None:
                raise failure
            attempt += 1
            log.info(
                "retrying %s %s in %.2f s (attempt %d of %d) after: %s",
                method, _shown(path), delay, attempt + 1, retry.max_attempts, failure.message,
            )  # fmt: skip
            await retry.async_sleep(delay)
            try:
                return await self._send(method, path, body)
            except TransportError as error:
                failure = error
