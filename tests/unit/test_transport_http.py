"""The httpx transports, sync and async, on ``httpx.MockTransport``: request shaping, answers,
error mapping and configuration (no network; the same tests run on both faces)."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import pickle
import ssl
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote

import attrs
import httpx
import pytest
from faces import FACES, Blocking

from tasklife import InvalidArgument, InvalidTaskData, TaskLifeError
from tasklife.lifecycle import Action, TaskStatus
from tasklife.transports import (
    ActionRefused,
    AsyncTransport,
    AuthError,
    ConnectionFailed,
    ProtocolError,
    RateLimited,
    RetryPolicy,
    ServerError,
    TaskNotFound,
    Transport,
    TransportClosed,
    TransportError,
    TransportTimeout,
    ValidationFailed,
)
from tasklife.transports.http import (
    API_KEY_ENV,
    AsyncBrowserUseTransport,
    BrowserUseTransport,
    map_httpx_error,
)

KEY = "sk-unit-7c1d0e9f8a"
BASE = "https://api.example.test"
Handler = Callable[[httpx.Request], httpx.Response]


def ok(body: object = None) -> Handler:
    """A handler answering 200 with ``body`` as JSON (``{}`` by default)."""
    return lambda request: httpx.Response(200, json={} if body is None else body)


@attrs.define
class Mocked:
    """Builds this face's transport on an ``httpx.MockTransport``; records requests and sleeps."""

    side: str
    runner: asyncio.Runner | None
    seen: list[httpx.Request] = attrs.Factory(list)
    sleeps: list[float] = attrs.Factory(list)
    made: list[Any] = attrs.Factory(list)

    def __call__(self, handler: Handler, **options: Any) -> Any:
        def record(request: httpx.Request) -> httpx.Response:
            self.seen.append(request)
            return handler(request)

        async def async_sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        options.setdefault("retry", RetryPolicy(jitter=0, sleep=self.sleeps.append,
                                                async_sleep=async_sleep))  # fmt: skip
        mock = httpx.MockTransport(record)
        if self.runner is None:
            transport: Any = BrowserUseTransport(
                KEY, base_url=BASE, client=httpx.Client(transport=mock), **options
            )
        else:
            transport = Blocking(
                AsyncBrowserUseTransport(
                    KEY, base_url=BASE, client=httpx.AsyncClient(transport=mock), **options
                ),
                self.runner,
            )
        self.made.append(transport)
        return transport


@pytest.fixture(params=FACES)
def mock(request: pytest.FixtureRequest) -> Iterator[Mocked]:
    """``mock(handler, **options)``: the sync or the async transport on a MockTransport."""
    if request.param == "sync":
        yield Mocked("sync", None)
        return
    with asyncio.Runner() as runner:
        yield Mocked("async", runner)


class TestRequestShaping:
    @pytest.mark.parametrize("action", [Action.PAUSE, Action.RESUME, Action.STOP], ids=str)
    def test_push_is_a_put_with_the_id_in_the_query(self, mock: Mocked, action: Action) -> None:
        """push: PUT /api/v1/{action}-task?task_id=..., bearer key, identity, no body."""
        mock(ok()).push("task_1", action)
        (request,) = mock.seen
        assert request.method == "PUT"
        assert str(request.url) == f"{BASE}/api/v1/{action}-task?task_id=task_1"
        assert request.headers["authorization"] == f"Bearer {KEY}"
        assert request.headers["accept-encoding"] == "identity"
        assert request.content == b""

    def test_the_extra_verbs_are_gone(self) -> None:
        """pause/resume/stop(task_id) left the adapters: push is the port's one verb."""
        for cls in (BrowserUseTransport, AsyncBrowserUseTransport):
            assert not {"pause", "resume", "stop"} & set(dir(cls))

    def test_run_task_sends_only_the_given_options(self, mock: Mocked) -> None:
        """run-task: a JSON body with task and the options given, nothing else."""
        task_id = mock(ok({"id": "task_9"})).run_task(
            "go", max_agent_steps=5, allowed_domains=["a.com"], llm_model="m", metadata={"a": "b"}
        )
        assert task_id == "task_9"
        assert json.loads(mock.seen[0].content) == {
            "task": "go", "max_agent_steps": 5, "allowed_domains": ["a.com"], "llm_model": "m",
            "metadata": {"a": "b"},
        }  # fmt: skip

    @pytest.mark.parametrize(
        "options",
        [{"metadata": {"k": "\ud800"}}, {"llm_model": "\udfff"}, {"max_agent_steps": 201},
         {"colour": "red"}],
        ids=["surrogate-metadata", "surrogate-model", "too-many-steps", "unknown"],
    )  # fmt: skip
    def test_bad_run_task_arguments_send_nothing(
        self, mock: Mocked, options: dict[str, Any]
    ) -> None:
        """Lone surrogates, out-of-range or unknown options: InvalidArgument, never a
        UnicodeEncodeError, and nothing sent."""
        with pytest.raises(InvalidArgument):
            mock(ok()).run_task("go", **options)
        assert mock.seen == []

    def test_list_tasks_query(self, mock: Mocked) -> None:
        """list_tasks: GET /api/v1/tasks?page=&limit=."""
        body = {"tasks": [], "page": 3, "limit": 7, "total_pages": 0, "total_count": 0}
        mock(ok(body)).list_tasks(page=3, limit=7)
        assert mock.seen[0].url.params == httpx.QueryParams({"page": "3", "limit": "7"})

    @pytest.mark.parametrize(
        ("page", "limit"), [(0, 10), (1, 0), (1, 101), (True, 10)], ids=["p0", "l0", "l101", "pb"]
    )
    def test_list_tasks_refuses_bad_paging_without_a_request(
        self, mock: Mocked, page: int, limit: int
    ) -> None:
        """An out-of-range page or limit is InvalidArgument before any request."""
        with pytest.raises(InvalidArgument):
            mock(ok()).list_tasks(page=page, limit=limit)
        assert mock.seen == []

    @pytest.mark.parametrize("task_id", ["", "a b", "a\nb", "x" * 257, "\ud800"], ids=repr)
    def test_invalid_ids_are_refused_without_a_request(self, mock: Mocked, task_id: str) -> None:
        """The id is checked first: InvalidTaskData, nothing sent."""
        transport = mock(ok())
        with pytest.raises(InvalidTaskData):
            transport.get_status(task_id)
        with pytest.raises(InvalidTaskData):
            transport.push(task_id, Action.PAUSE)
        assert mock.seen == []

    @pytest.mark.parametrize("task_id", [".", "..", "../..", "a/../b"])
    def test_dot_ids_cannot_change_the_path(self, mock: Mocked, task_id: str) -> None:
        """get_status('..') asks for /api/v1/task/%2E%2E/status, never /api/v1/status."""
        mock(ok("running")).get_status(task_id)
        raw = mock.seen[0].url.raw_path.decode()
        segments = raw.split("/")
        assert (segments[:4], segments[5:], len(segments)) == (["", "api", "v1", "task"],
                                                               ["status"], 6)  # fmt: skip
        assert unquote(segments[4]) == task_id

    @pytest.mark.parametrize("action", [Action.START, Action.FINISH, Action.FAIL], ids=str)
    def test_remote_actions_cannot_be_pushed(self, mock: Mocked, action: Action) -> None:
        """start/finish/fail are the remote's: InvalidTaskData, nothing sent."""
        with pytest.raises(InvalidTaskData):
            mock(ok()).push("t", action)
        assert mock.seen == []

    def test_a_closed_transport_is_never_retried(self, mock: Mocked) -> None:
        """A call after close() is TransportClosed at once: no request, no retry, no sleep."""
        transport = mock(ok("running"))
        transport.close()
        with pytest.raises(TransportClosed) as caught:
            transport.get_status("t")
        assert caught.value.may_have_reached_server is False
        assert (mock.seen, mock.sleeps) == ([], [])

    def test_a_client_closed_underneath_is_never_retried(self, mock: Mocked) -> None:
        """The caller closed the client it lent: TransportClosed, no retry."""
        transport = mock(ok("running"))
        client = transport._client
        if isinstance(client, httpx.AsyncClient):
            assert mock.runner is not None
            mock.runner.run(client.aclose())
        else:
            client.close()
        with pytest.raises(TransportClosed):
            transport.get_status("t")
        assert mock.sleeps == []


class TestOwnClient:
    def test_one_client_for_every_call(self) -> None:
        """The transport builds one httpx.Client and reuses it (one pool); close() closes it."""
        transport = BrowserUseTransport(KEY, base_url=BASE)
        client = transport._client
        assert isinstance(client, httpx.Client)
        transport.close()
        assert client.is_closed

    def test_a_given_client_is_used_and_not_closed(self) -> None:
        """client=: requests go through it; close() leaves it open (the caller owns it)."""
        client = httpx.Client(transport=httpx.MockTransport(ok("paused")))
        with BrowserUseTransport(KEY, base_url=BASE, client=client) as transport:
            assert transport.get_status("t") is TaskStatus.PAUSED
        assert not client.is_closed
        client.close()

    def test_both_satisfy_their_protocols(self) -> None:
        """BrowserUseTransport is a Transport, the async one an AsyncTransport."""
        sync = BrowserUseTransport(KEY, base_url=BASE)
        asynchronous = AsyncBrowserUseTransport(KEY, base_url=BASE)
        assert isinstance(sync, Transport)
        assert isinstance(asynchronous, AsyncTransport)
        sync.close()
        asyncio.run(asynchronous.close())


STATUS_ERRORS = [
    (401, AuthError), (404, TaskNotFound), (409, ActionRefused), (422, ValidationFailed),
    (500, ServerError), (418, TransportError), (201, ProtocolError),
]  # fmt: skip


class TestAnswers:
    @pytest.mark.parametrize(
        ("code", "error"), STATUS_ERRORS, ids=[str(c) for c, _ in STATUS_ERRORS]
    )
    def test_status_codes(self, mock: Mocked, code: int, error: type[TransportError]) -> None:
        """Each HTTP status becomes its error (the full mapping: tests/unit/test_v1.py)."""
        with pytest.raises(error) as caught:
            mock(lambda request: httpx.Response(code, json={"detail": "why"})).get_task("task_1")
        assert type(caught.value) is error
        assert (caught.value.method, caught.value.path, caught.value.task_id) == (
            "GET", "/api/v1/task/task_1", "task_1",
        )  # fmt: skip

    def test_a_non_json_error_body(self, mock: Mocked) -> None:
        """A 502 with an HTML body: ServerError, detail None, no crash."""
        handler = lambda request: httpx.Response(502, text="<html>bad gateway</html>")  # noqa: E731
        with pytest.raises(ServerError) as caught:
            mock(handler, retry=RetryPolicy.never()).get_status("t")
        assert caught.value.detail is None

    @pytest.mark.parametrize(
        ("answer", "error"),
        [(lambda: httpx.Response(200, content=b"[" * 50_000 + b"]" * 50_000,
                                 headers={"content-type": "application/json"}), ProtocolError),
         (lambda: httpx.Response(500, headers={"content-type": "application/json"},
                                 content=b'{"detail": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"),
          ServerError),
         (lambda: httpx.Response(200, json={"id": "t", "status": "running",
                                            "created_at": "0001-01-01T00:00:00+01:00"}),
          ProtocolError),
         (lambda: httpx.Response(422, json={"detail": [{"loc": None, "msg": "x"}]}),
          ValidationFailed),
         (lambda: httpx.Response(429, json={"detail": "x"}, headers={
             "retry-after": "Thu, 01 Jan 99999999999999999999 00:00:00 GMT"}), RateLimited),
         (lambda: httpx.Response(200, content=gzip.compress(b"{}"), headers={
             "content-type": "application/json", "content-encoding": "gzip"}), ProtocolError)],
        ids=["deep-200", "deep-detail", "date-before-utc", "loc-null", "year-of-20-digits",
             "compressed"],
    )  # fmt: skip
    def test_hostile_answers_are_typed(
        self, mock: Mocked, answer: Callable[[], httpx.Response], error: type[TransportError]
    ) -> None:
        """Whatever the answer, the typed error and nothing else, on both faces."""
        with pytest.raises(error):
            mock(lambda request: answer(), retry=RetryPolicy.never()).get_task("t")

    def test_the_size_cap(self, mock: Mocked) -> None:
        """A body beyond max_response_bytes is a ProtocolError naming the cap."""
        body = {"id": "t", "status": "running", "output": "x" * 2000}
        with pytest.raises(ProtocolError, match="larger than 1024 bytes"):
            mock(ok(body), max_response_bytes=1024).get_task("t")

    def test_a_declared_length_beyond_the_cap_is_not_read(self, mock: Mocked) -> None:
        """Content-Length: 400 MiB is refused before a byte of the body is read."""
        read: list[bytes] = []

        def body() -> Iterator[bytes]:
            read.append(b"x")
            yield b"{}"

        def handler(request: httpx.Request) -> httpx.Response:
            headers = {"content-type": "application/json", "content-length": str(400 << 20)}
            if mock.runner is None:
                return httpx.Response(200, headers=headers, content=body())
            return httpx.Response(200, headers=headers, content=_async_body(read))

        with pytest.raises(ProtocolError, match="larger than"):
            mock(handler).get_status("t")
        assert read == []

    @pytest.mark.parametrize(
        "answer",
        [lambda: httpx.Response(200, content=b"{}",
                                headers={"content-type": f"text/html; charset={KEY}"}),
         lambda: httpx.Response(200, json={"id": "t", "status": KEY}),
         lambda: httpx.Response(500, json={"detail": f"echo {KEY}"}),
         lambda: httpx.Response(422, json={"detail": [{"loc": [KEY], "msg": KEY}]})],
        ids=["content-type", "body-value", "detail", "422-loc"],
    )  # fmt: skip
    def test_an_echoed_key_is_redacted(
        self, mock: Mocked, answer: Callable[[], httpx.Response]
    ) -> None:
        """A proxy echoing the key into a header or the body: no message, detail or args hold it."""
        with pytest.raises(TransportError) as caught:
            mock(lambda request: answer(), retry=RetryPolicy.never()).get_task("t")
        error = caught.value
        shown = f"{error!s} {error!r} {error.args!r} {error.detail!r} {error.message}"
        assert KEY not in shown
        assert KEY not in repr(pickle.loads(pickle.dumps(error)).__dict__)  # noqa: S301


async def _async_body(read: list[bytes]) -> Any:
    read.append(b"x")
    yield b"{}"


def all_subclasses(root: type[BaseException]) -> Iterator[type[BaseException]]:
    """``root`` and every subclass of it, recursively."""
    yield root
    for sub in root.__subclasses__():
        yield from all_subclasses(sub)


HTTPX_ERRORS = sorted(
    {
        cls
        for root in (httpx.HTTPError, httpx.InvalidURL, httpx.CookieConflict, httpx.StreamError)
        for cls in all_subclasses(root)
        if cls.__module__.startswith("httpx")
    },
    key=lambda c: c.__name__,
)


class TestHttpxErrorMapping:
    def test_the_walk_found_httpx_classes(self) -> None:
        """The walk covers httpx's tree (sanity: the usual suspects are in it)."""
        names = {c.__name__ for c in HTTPX_ERRORS}
        assert {"ConnectError", "ReadTimeout", "RemoteProtocolError", "InvalidURL",
                "CookieConflict", "StreamClosed", "DecodingError"} <= names  # fmt: skip

    @pytest.mark.parametrize("cls", HTTPX_ERRORS, ids=lambda c: c.__name__)
    def test_every_httpx_exception_is_mapped(self, cls: type[Exception]) -> None:
        """Each httpx exception class becomes a TransportError that holds no httpx object."""
        error = make_httpx_error(cls)
        mapped = map_httpx_error(error, "GET", "/api/v1/task/x", secret=KEY)
        assert isinstance(mapped, TransportError)
        assert isinstance(mapped, TaskLifeError)
        assert mapped.__cause__ is None
        assert pickle.loads(pickle.dumps(mapped)).args == mapped.args  # noqa: S301

    @pytest.mark.parametrize(
        ("cls", "error", "reached"),
        [
            (httpx.ConnectError, ConnectionFailed, False),
            (httpx.ConnectTimeout, TransportTimeout, False),
            (httpx.PoolTimeout, TransportTimeout, False),
            (httpx.ReadTimeout, TransportTimeout, True),
            (httpx.WriteTimeout, TransportTimeout, True),
            (httpx.ReadError, ConnectionFailed, True),
            (httpx.RemoteProtocolError, ConnectionFailed, True),
            (httpx.LocalProtocolError, ProtocolError, False),
            (httpx.DecodingError, ProtocolError, True),
            (httpx.UnsupportedProtocol, ProtocolError, False),
        ],
        ids=lambda v: getattr(v, "__name__", str(v)),
    )
    def test_what_may_have_reached_the_server(
        self, cls: type[Exception], error: type[TransportError], reached: bool
    ) -> None:
        """Connect-phase failures surely did not reach the server; read/write ones may have."""
        mapped = map_httpx_error(make_httpx_error(cls))
        assert type(mapped) is error
        assert mapped.may_have_reached_server is reached

    def test_the_secret_is_scrubbed_from_httpx_messages(self) -> None:
        """Even if httpx's message held the key, the mapped error does not."""
        mapped = map_httpx_error(httpx.ConnectError(f"bad {KEY}"), secret=KEY)
        assert KEY not in str(mapped)

    def test_an_unknown_exception_is_connection_failed(self) -> None:
        """Something httpx does not define still becomes a TransportError."""
        assert isinstance(map_httpx_error(OSError("x")), ConnectionFailed)

    def test_anything_sending_raises_is_typed(self, mock: Mocked) -> None:
        """An exception no one foresaw, raised while sending: a TransportError, never itself."""

        def handler(request: httpx.Request) -> httpx.Response:
            raise UnicodeEncodeError("ascii", f"Bearer {KEY}", 7, 8, "boom")

        with pytest.raises(ConnectionFailed) as caught:
            mock(handler, retry=RetryPolicy.never()).push("t", Action.STOP)
        assert KEY not in f"{caught.value} {caught.value.args}"
        assert caught.value.may_have_reached_server is True


def make_httpx_error(cls: type[Exception]) -> Exception:
    """An instance of an httpx exception class, whatever its constructor wants."""
    request = httpx.Request("GET", "https://x.test/")
    if issubclass(cls, httpx.HTTPStatusError):
        return cls("bad", request=request, response=httpx.Response(500, request=request))
    if issubclass(cls, httpx.RequestError):
        return cls("boom", request=request)
    if issubclass(cls, httpx.StreamError) and cls is not httpx.StreamError:
        return cls()  # type: ignore[call-arg]  # the concrete stream errors take no message
    return cls("boom")


class TestConfiguration:
    @pytest.mark.parametrize(
        "url", ["http://api.example.com", "http://10.0.0.1:8000", "ftp://x", "nohost", "https://",
                "https://u:p@x.test", "https://x.test/?q=1"],
    )  # fmt: skip
    def test_unsafe_or_malformed_base_urls_are_refused(self, url: str) -> None:
        """Plain http to a non-loopback host, other schemes, hostless URLs: InvalidArgument."""
        with pytest.raises(InvalidArgument, match="base_url"):
            BrowserUseTransport(KEY, base_url=url)

    @pytest.mark.parametrize(
        "url", ["http://127.0.0.1:8000", "http://localhost", "http://[::1]:9", "http://127.9.9.9"]
    )
    def test_plain_http_to_loopback_is_allowed(self, url: str) -> None:
        """Loopback hosts may use http://."""
        BrowserUseTransport(KEY, base_url=url).close()

    def test_allow_insecure_http(self) -> None:
        """allow_insecure_http=True lets http:// reach another host."""
        transport = BrowserUseTransport(KEY, base_url="http://x.test/", allow_insecure_http=True)
        assert transport.base_url == "http://x.test"
        transport.close()

    @pytest.mark.parametrize(
        "options",
        [{"call_timeout": 0}, {"call_timeout": True}, {"call_timeout": float("inf")},
         {"max_response_bytes": 0}, {"max_response_bytes": 1.5}],
        ids=["zero-deadline", "bool-deadline", "infinite-deadline", "zero-cap", "float-cap"],
    )  # fmt: skip
    def test_bad_bounds(self, options: dict[str, Any]) -> None:
        """A deadline or a size cap that is no positive number: InvalidArgument."""
        with pytest.raises(InvalidArgument):
            BrowserUseTransport(KEY, base_url=BASE, **options)

    def test_key_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without api_key=, BROWSER_USE_API_KEY is used."""
        monkeypatch.setenv(API_KEY_ENV, "env-key-1")
        seen: list[httpx.Request] = []

        def record(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(200, json={})

        client = httpx.Client(transport=httpx.MockTransport(record))
        BrowserUseTransport(base_url=BASE, client=client).push("t", Action.PAUSE)
        assert seen[0].headers["authorization"] == "Bearer env-key-1"

    @pytest.mark.parametrize(
        "key", [None, "", "two words", "line\nbreak", "ключ-123", "k\u00e9y", "k\ud800"], ids=repr
    )
    def test_missing_or_malformed_keys(
        self, key: str | None, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """No key, or one that is not printable ASCII: AuthError that does not hold the key."""
        monkeypatch.delenv(API_KEY_ENV, raising=False)
        for cls in (BrowserUseTransport, AsyncBrowserUseTransport):
            with pytest.raises(AuthError) as caught:
                cls(key, base_url=BASE)
            shown = f"{caught.value!s} {caught.value.args!r} {caught.value!r}"
            assert key is None or not key or key not in shown

    def test_repr_holds_no_key(self) -> None:
        """repr() names the base URL only."""
        transport = BrowserUseTransport(KEY, base_url=BASE)
        assert KEY not in repr(transport)
        assert KEY not in repr(transport._client.headers)
        transport.close()

    def test_tls_verification_is_on(self) -> None:
        """The client it builds verifies certificates and host names."""
        transport = BrowserUseTransport(KEY, base_url=BASE)
        context = transport._client._transport._pool._ssl_context  # type: ignore[attr-defined]
        assert context.verify_mode is ssl.CERT_REQUIRED
        assert context.check_hostname is True
        transport.close()

    def test_retries_are_logged_without_the_key(
        self, mock: Mocked, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A retried 503 logs one line naming the path, not the key."""
        caplog.set_level(logging.DEBUG, logger="tasklife")
        answers = iter(
            [httpx.Response(503, json={"detail": KEY}), httpx.Response(200, json="running")]
        )
        mock(lambda request: next(answers)).get_status("t")
        assert "retrying GET /api/v1/task/t/status" in caplog.text
        assert KEY not in caplog.text
        assert mock.sleeps == [0.5]
