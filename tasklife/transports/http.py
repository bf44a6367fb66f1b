"""``BrowserUseTransport`` and ``AsyncBrowserUseTransport``: the Browser Use Cloud API v1 on httpx.

Needs the ``http`` extra (``pip install 'tasklife[http]'``). One ``httpx.Client`` (or
``AsyncClient``) per transport, built once and reused for every call, so connections are
kept alive; pass your own with ``client=`` (the transport then does not close it).

What to send and what an answer means is ``tasklife.v1``; the retry loop is
``tasklife.transports.retry.exchange``, one flow for both classes. What is here is the I/O:
sending one request and reading its answer, with these bounds:

- **A deadline per call** (``call_timeout``, default 120 s): every attempt, and every wait
  between attempts, ends by it, whatever the server does (a server trickling one byte at a
  time included), and a ``RemoteTask.wait(timeout=)`` tightens it for its polls. The async
  class enforces it with ``asyncio.timeout``; the sync class clips every socket read and
  write of the client it builds to it (with ``client=``: the client's own timeouts for the
  headers, the deadline between chunks of the body).
- **A size cap per answer** (``max_response_bytes``, default 10 MiB): the body is read in
  chunks and a longer one is a ``ProtocolError`` (a ``Content-Length`` beyond the cap is
  refused before reading). Answers are asked for uncompressed.

Security: the API key comes from ``api_key=`` or ``BROWSER_USE_API_KEY`` (printable ASCII
without spaces) and is only ever put in the ``Authorization`` header; it is removed from
every answer before the answer is read, so no repr, message or log line contains it, even
when a proxy echoes it. ``http://`` is refused unless the host is a loopback address or
``allow_insecure_http=True``. TLS verification is httpx's default (on) and there is no switch
to turn it off. Task ids are checked and percent-encoded (``tasklife.v1.quote_id``), so no id
can change the request's path or query.

Every httpx exception is translated (``map_httpx_error``): nothing but a ``TransportError``
leaves a call.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import ssl
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator
from typing import Any, Concatenate, Final, Generic, ParamSpec, TypeVar
from urllib.parse import urlsplit

try:
    import httpcore
    import httpx
except ImportError as error:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "tasklife's HTTP transports need httpx: pip install 'tasklife[http]'"
    ) from error

from tasklife import v1
from tasklife.errors import InvalidArgument, positive_int, seconds
from tasklife.transports.base import AsyncClosing, Closing
from tasklife.transports.flow import Flow, adrive, drive, time_left, within
from tasklife.transports.retry import RetryPolicy, Send, exchange

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_BASE_URL",
    "DEFAULT_CALL_TIMEOUT",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_TIMEOUT",
    "AsyncBrowserUseTransport",
    "BrowserUseTransport",
    "map_httpx_error",
]

P = ParamSpec("P")
T = TypeVar("T")
ClientT = TypeVar("ClientT", httpx.Client, httpx.AsyncClient)

DEFAULT_BASE_URL: Final = "https://api.browser-use.com"
API_KEY_ENV: Final = "BROWSER_USE_API_KEY"
DEFAULT_TIMEOUT: Final = 30.0
"""Seconds for each of connect, read, write and pool (httpx's ``Timeout(30.0)``)."""
DEFAULT_CALL_TIMEOUT: Final = 120.0
"""Seconds one call may take in all: every attempt and every wait between attempts."""
DEFAULT_MAX_RESPONSE_BYTES: Final = 10 * 1024 * 1024
"""The largest answer body read (10 MiB); a longer one is a ``ProtocolError``."""

_READ: Final = ("content-type", "retry-after")
"""The answer headers ``tasklife.v1`` reads."""

# httpx exception -> (tasklife error, may the request have reached the server?).
# Looked up along the exception's MRO, so every subclass httpx adds later is still mapped.
_HTTPX_ERRORS: Final[dict[type[Exception], tuple[type[v1.TransportError], bool, str]]] = {
    httpx.ConnectTimeout: (v1.TransportTimeout, False, "timed out connecting"),
    httpx.PoolTimeout: (v1.TransportTimeout, False, "timed out waiting for a free connection"),
    httpx.ReadTimeout: (v1.TransportTimeout, True, "timed out waiting for the answer"),
    httpx.WriteTimeout: (v1.TransportTimeout, True, "timed out sending the request"),
    httpx.TimeoutException: (v1.TransportTimeout, True, "timed out"),
    httpx.ConnectError: (v1.ConnectionFailed, False, "could not connect"),
    httpx.ProxyError: (v1.ConnectionFailed, False, "the proxy refused the connection"),
    httpx.ReadError: (v1.ConnectionFailed, True, "the connection broke while reading the answer"),
    httpx.WriteError: (v1.ConnectionFailed, True, "the connection broke while sending"),
    httpx.CloseError: (v1.ConnectionFailed, True, "the connection broke while closing"),
    httpx.RemoteProtocolError: (
        v1.ConnectionFailed,
        True,
        "the server closed the connection without a complete answer",
    ),
    httpx.NetworkError: (v1.ConnectionFailed, True, "the connection failed"),
    httpx.LocalProtocolError: (v1.ProtocolError, False, "the request could not be sent"),
    httpx.ProtocolError: (v1.ProtocolError, True, "HTTP protocol violation"),
    httpx.UnsupportedProtocol: (v1.ProtocolError, False, "unsupported URL scheme"),
    httpx.DecodingError: (v1.ProtocolError, True, "the response body could not be decoded"),
    httpx.TooManyRedirects: (v1.ProtocolError, True, "too many redirects"),
    httpx.HTTPStatusError: (v1.ServerError, True, "unexpected HTTP status"),
    httpx.TransportError: (v1.ConnectionFailed, True, "the request failed"),
    httpx.RequestError: (v1.ConnectionFailed, True, "the request failed"),
    httpx.HTTPError: (v1.TransportError, True, "the request failed"),
    httpx.InvalidURL: (v1.ProtocolError, False, "invalid URL"),
    httpx.CookieConflict: (v1.ProtocolError, False, "conflicting cookies"),
    httpx.StreamError: (v1.ProtocolError, False, "the response stream was misused"),
}


def map_httpx_error(
    error: BaseException,
    method: str | None = None,
    path: str | None = None,
    *,
    secret: str | None = None,
) -> v1.TransportError:
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
        cls, reached, what = v1.ConnectionFailed, True, "the request failed"
    said = _scrubbed(str(error), secret)
    message = f"{what}: {said}"[:500] if said else what
    return cls(message, method=method, path=path, may_have_reached_server=reached)


def _scrubbed(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret and secret in text else text


class _Redacted(logging.Filter):
    """Removes the API keys of this process's transports from httpx's and httpcore's records.

    Both log what a server sent (the status line, the headers): a proxy echoing the key there
    would otherwise put it in the caller's logs.
    """

    def __init__(self) -> None:
        super().__init__()
        self.keys: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if any(key in text for key in self.keys):
            for key in self.keys:
                text = text.replace(key, "***")
            record.msg, record.args = text, ()
        return True


_REDACTED: Final = _Redacted()
for _name in ("httpx", "httpcore.connection", "httpcore.connection_pool", "httpcore.http11",
              "httpcore.http2", "httpcore.proxy", "httpcore.socks"):  # fmt: skip
    logging.getLogger(_name).addFilter(_REDACTED)


@functools.cache
def _tls() -> ssl.SSLContext:
    """httpx's default verifying TLS context, built once per process and shared.

    Building one loads the CA bundle; every transport would otherwise pay that in its
    constructor. Verification stays on: this is httpx's default.
    """
    create = getattr(httpx, "create_ssl_context", None)  # public since httpx 0.28
    if create is not None:
        context: ssl.SSLContext = create()
        return context
    import certifi  # noqa: PLC0415 - httpx < 0.28 depends on it and loads it the same way

    return ssl.create_default_context(cafile=certifi.where())


def _check_base_url(base_url: object, allow_insecure_http: bool) -> str:
    if not isinstance(base_url, str):
        raise InvalidArgument("base_url", f"must be a string, not {type(base_url).__name__}")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgument("base_url", f"must be an http(s) URL with a host: {base_url!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise InvalidArgument("base_url", "must not hold a query, a fragment or credentials")
    if (
        parts.scheme == "http"
        and not allow_insecure_http
        and not v1.is_loopback_host(parts.hostname)
    ):
        raise InvalidArgument(
            "base_url",
            f"refusing plain http:// to {parts.hostname} (the API key would travel "
            "unencrypted); use https://, or pass allow_insecure_http=True",
        )
    return base_url.rstrip("/")


def _check_key(api_key: object) -> str:
    key = os.environ.get(API_KEY_ENV) if api_key is None else api_key
    if not key:
        raise v1.AuthError(f"no API key: pass api_key= or set {API_KEY_ENV}")
    if not isinstance(key, str) or not (key.isascii() and key.isprintable()) or " " in key:
        raise v1.AuthError("the API key must be one token of printable ASCII, without spaces")
    return key


def _clipped(timeout: httpx.Timeout, seconds: float) -> httpx.Timeout:
    """``timeout`` with no phase longer than ``seconds``."""

    def clip(phase: float | None) -> float:
        return seconds if phase is None else min(phase, seconds)

    return httpx.Timeout(
        connect=clip(timeout.connect), read=clip(timeout.read), write=clip(timeout.write),
        pool=clip(timeout.pool),
    )  # fmt: skip


class _Body:
    """An answer's body, read chunk by chunk within the size cap and the attempt's deadline."""

    __slots__ = ("_at", "_chunks", "_limit", "_request", "_size", "status")

    def __init__(
        self, response: httpx.Response, request: v1.Request[Any], limit: int, at: float
    ) -> None:
        self.status = response.status_code
        self._request, self._limit, self._at = request, limit, at
        self._chunks: list[bytes] = []
        self._size = 0
        declared = response.headers.get("content-length", "")
        digits = declared.isascii() and declared.isdigit()
        if digits and (len(declared) > 18 or int(declared) > limit):
            raise self._too_large()
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise self._error(
                v1.ProtocolError, f"the answer is encoded ({encoding[:20]!r}); asked for identity"
            )

    def add(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self._size += len(chunk)
        if self._size > self._limit:
            raise self._too_large()
        if time.monotonic() > self._at:
            raise self._error(v1.TransportTimeout, "the call's deadline passed reading the answer")

    def bytes(self) -> bytes:
        return b"".join(self._chunks)

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Map a failure while reading (the status line came, the whole answer did not)."""
        try:
            yield
        except v1.TransportError:
            raise
        except Exception as error:
            timeout = isinstance(error, httpx.TimeoutException)
            cls = v1.TransportTimeout if timeout else v1.ProtocolError
            raise self._error(cls, f"the answer was cut short ({type(error).__name__})") from None

    def _too_large(self) -> v1.TransportError:
        return self._error(v1.ProtocolError, f"the answer is larger than {self._limit} bytes")

    def _error(self, cls: type[v1.TransportError], message: str) -> v1.TransportError:
        request = self._request
        return cls(
            message, status_code=self.status, method=request.method, path=request.path,
            may_have_reached_server=True, task_id=request.task_id,
        )  # fmt: skip


class _Shell(Generic[ClientT]):
    """What the sync and async transports share: configuration, requests, answers, errors.

    ``timeout`` is seconds (or an ``httpx.Timeout``) for each phase of a request of the client
    it builds; with ``client=`` the client's own settings apply and only its pool is used (the
    transport then does not close it).
    """

    __slots__ = (
        "_base", "_call_timeout", "_client", "_closed", "_headers", "_key", "_limit", "_owns",
        "_retry", "base_url",
    )  # fmt: skip

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        client: ClientT | None = None,
        allow_insecure_http: bool = False,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._key = _check_key(api_key)
        _REDACTED.keys.add(self._key)
        self.base_url = _check_base_url(base_url, allow_insecure_http)
        self._base = self.base_url
        self._call_timeout = seconds("call_timeout", call_timeout)
        self._limit = positive_int("max_response_bytes", max_response_bytes)
        self._retry = RetryPolicy() if retry is None else retry
        self._closed = False
        self._headers: dict[str, str] | None = {
            "Authorization": f"Bearer {self._key}",
            "Accept-Encoding": "identity",
        }
        self._owns = client is None
        if client is None:
            client = self._new_client(timeout, self._headers)
            self._headers = None  # the client sends them: no per-request header merge
        self._client: ClientT = client

    def _new_client(self, timeout: float | httpx.Timeout, headers: dict[str, str]) -> ClientT:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def _flow(self, request: v1.Request[T]) -> Flow[T]:
        """The retry loop for ``request``, within this call's deadline."""
        seconds, left = self._call_timeout, time_left()
        return exchange(request, self._retry, seconds if left is None else min(seconds, left))

    def _open(self, request: v1.Request[Any]) -> None:
        if self._closed or self._client.is_closed:
            raise v1.TransportClosed(
                "the transport is closed", method=request.method, path=request.path,
                task_id=request.task_id,
            )  # fmt: skip

    def _build(self, send: Send) -> httpx.Request:
        request, client = send.request, self._client
        return client.build_request(
            request.method, self._base + request.target, headers=self._headers,
            json=request.body, timeout=_clipped(client.timeout, send.seconds),
        )  # fmt: skip

    def _failed(self, error: Exception, request: v1.Request[Any]) -> v1.TransportError:
        """The typed error for anything sending raised (nothing else leaves a call)."""
        if isinstance(error, v1.TransportError):
            return error
        if isinstance(error, RuntimeError) and "closed" in str(error):  # httpx: client closed
            failure: v1.TransportError = v1.TransportClosed(
                "the transport is closed", method=request.method, path=request.path
            )
        else:
            failure = map_httpx_error(error, request.method, request.path, secret=self._key)
        failure.task_id = request.task_id
        return failure

    def _body(self, response: httpx.Response, send: Send) -> _Body:
        return _Body(response, send.request, self._limit, time.monotonic() + send.seconds)

    def _answer(self, body: _Body, response: httpx.Response) -> v1.Answer:
        """The answer as ``tasklife.v1`` reads it, the API key removed from every byte of it."""
        key = self._key
        content = body.bytes()
        raw = key.encode()
        if raw in content:
            content = content.replace(raw, b"***")
        headers = {name: _scrubbed(response.headers.get(name, ""), key) for name in _READ}
        return v1.Answer(body.status, headers, content)


def _verb(
    build: Callable[P, v1.Request[T]],
) -> Callable[Concatenate[BrowserUseTransport, P], T]:
    """The blocking transport's verb for the v1 request ``build`` makes."""

    def verb(self: BrowserUseTransport, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return drive(self._flow(build(*args, **kwargs)), self._send, self._retry.sleep)

    verb.__name__, verb.__doc__ = build.__name__, build.__doc__
    return verb


def _averb(
    build: Callable[P, v1.Request[T]],
) -> Callable[Concatenate[AsyncBrowserUseTransport, P], Coroutine[Any, Any, T]]:
    """The asyncio transport's verb for the v1 request ``build`` makes."""

    async def verb(self: AsyncBrowserUseTransport, /, *args: P.args, **kwargs: P.kwargs) -> T:
        flow = self._flow(build(*args, **kwargs))
        return await adrive(flow, self._send, self._retry.async_sleep)

    verb.__name__, verb.__doc__ = build.__name__, build.__doc__
    return verb


class BrowserUseTransport(_Shell[httpx.Client], Closing):
    """A blocking ``Transport`` for the Browser Use Cloud API v1 (see the module docstring)."""

    __slots__ = ()

    def _new_client(self, timeout: float | httpx.Timeout, headers: dict[str, str]) -> httpx.Client:
        transport = httpx.HTTPTransport(verify=_tls())
        _bound_reads(transport)
        return httpx.Client(timeout=timeout, headers=headers, verify=_tls(), transport=transport)

    push = _verb(v1.push)
    get_task = _verb(v1.get_task)
    get_status = _verb(v1.get_status)
    list_tasks = _verb(v1.list_tasks)
    run_task = _verb(v1.run_task)

    def close(self) -> None:
        """Refuse further calls; close the connection pool if this transport built the client."""
        self._closed = True
        if self._owns:
            self._client.close()

    def _send(self, send: Send) -> v1.Answer:
        """One attempt: send, then read the answer within the cap and the deadline."""
        client, request = self._client, send.request
        self._open(request)
        with within(send.seconds):  # the reads of the client it built stop at the deadline
            try:
                response = client.send(self._build(send), stream=True)
            except Exception as error:
                raise self._failed(error, request) from None
            try:
                body = self._body(response, send)
                with body.reading():
                    for chunk in response.iter_bytes():
                        body.add(chunk)
            finally:
                response.close()
        return self._answer(body, response)


class AsyncBrowserUseTransport(_Shell[httpx.AsyncClient], AsyncClosing):
    """The asyncio twin of ``BrowserUseTransport`` (an ``AsyncTransport``), on one AsyncClient."""

    __slots__ = ()

    def _new_client(
        self, timeout: float | httpx.Timeout, headers: dict[str, str]
    ) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=timeout, headers=headers, verify=_tls())

    push = _averb(v1.push)
    get_task = _averb(v1.get_task)
    get_status = _averb(v1.get_status)
    list_tasks = _averb(v1.list_tasks)
    run_task = _averb(v1.run_task)

    async def close(self) -> None:
        """Refuse further calls; close the connection pool if this transport built the client."""
        self._closed = True
        if self._owns:
            await self._client.aclose()

    async def _send(self, send: Send) -> v1.Answer:
        """One attempt, under ``asyncio.timeout``: nothing outlives the deadline."""
        client, request = self._client, send.request
        self._open(request)
        try:
            async with asyncio.timeout(send.seconds):
                try:
                    response = await client.send(self._build(send), stream=True)
                except Exception as error:
                    raise self._failed(error, request) from None
                try:
                    body = self._body(response, send)
                    with body.reading():
                        async for chunk in response.aiter_bytes():
                            body.add(chunk)
                finally:
                    await response.aclose()
        except TimeoutError as error:
            if isinstance(error, v1.TransportError):
                raise
            raise v1.TransportTimeout(
                "the call's deadline passed before the answer came", method=request.method,
                path=request.path, may_have_reached_server=True, task_id=request.task_id,
            ) from None  # fmt: skip
        return self._answer(body, response)


# the sync client's deadline ------------------------------------------------------------------


def _bound_reads(transport: httpx.HTTPTransport) -> None:
    """Make every socket operation of ``transport`` end by the current call's deadline.

    httpx's timeouts bound each read, so a server trickling a byte at a time could hold a call
    forever; the pool's network backend is wrapped so each read, write and connect is given at
    most the time left (``tasklife.transports.flow.time_left``), and none once it is gone.
    """
    pool: Any = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if isinstance(backend, httpcore.NetworkBackend):
        pool._network_backend = _DeadlineBackend(backend)


def _left(timeout: float | None, error: type[Exception]) -> float | None:
    left = time_left()
    if left is None:
        return timeout
    if left <= 0:
        raise error("the call's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every operation ends by the current call's deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        secured = self._stream.start_tls(
            ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(secured)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's network backend, its streams wrapped in ``_DeadlineStream``."""

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_tcp(
            host, port, _left(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_unix_socket(
            path, _left(timeout, httpcore.ConnectTimeout), socket_options
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)
