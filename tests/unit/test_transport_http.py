"""Request shaping and error mapping of the httpx transports (httpx.MockTransport, no network)."""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
import subprocess
import sys
from collections.abc import Callable, Iterator

import httpx
import pytest

from tasklife import InvalidTaskData, TaskLifeError
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


def mock(handler: Handler, seen: list[httpx.Request] | None = None) -> BrowserUseTransport:
    """A sync transport whose client is an httpx.MockTransport recording requests in ``seen``."""

    def record(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return handler(request)

    client = httpx.Client(transport=httpx.MockTransport(record))
    retry = RetryPolicy(jitter=0, sleep=lambda seconds: None)
    return BrowserUseTransport(KEY, base_url=BASE, client=client, retry=retry)


class TestRequestShaping:
    @pytest.mark.parametrize("action", [Action.PAUSE, Action.RESUME, Action.STOP], ids=str)
    def test_push_is_a_put_with_the_id_in_the_query(self, action: Action) -> None:
        """push: PUT /api/v1/{action}-task?task_id=..., bearer key, no body."""
        seen: list[httpx.Request] = []
        mock(ok(), seen).push("task_1", action)
        (request,) = seen
        assert request.method == "PUT"
        assert str(request.url) == f"{BASE}/api/v1/{action}-task?task_id=task_1"
        assert request.headers["authorization"] == f"Bearer {KEY}"
        assert request.content == b""

    def test_verbs_match_push(self) -> None:
        """pause/resume/stop(task_id) send what push does."""
        seen: list[httpx.Request] = []
        transport = mock(ok(), seen)
        transport.pause("t")
        transport.resume("t")
        transport.stop("t")
        assert [r.url.path for r in seen] == [
            "/api/v1/pause-task", "/api/v1/resume-task", "/api/v1/stop-task",
        ]  # fmt: skip

    def test_run_task_sends_only_the_given_options(self) -> None:
        """run-task: a JSON body with task and the options given, nothing else."""
        seen: list[httpx.Request] = []
        task_id = mock(ok({"id": "task_9"}), seen).run_task(
            "go", max_agent_steps=5, allowed_domains=["a.com"], llm_model="m", metadata={"a": "b"}
        )
        assert task_id == "task_9"
        assert json.loads(seen[0].content) == {
            "task": "go", "max_agent_steps": 5, "allowed_domains": ["a.com"], "llm_model": "m",
            "metadata": {"a": "b"},
        }  # fmt: skip

    def test_list_tasks_query(self) -> None:
        """list_tasks: GET /api/v1/tasks?page=&limit=."""
        seen: list[httpx.Request] = []
        body = {"tasks": [], "page": 3, "limit": 7, "total_pages": 0, "total_count": 0}
        mock(ok(body), seen).list_tasks(page=3, limit=7)
        assert seen[0].url.params == httpx.QueryParams({"page": "3", "limit": "7"})

    @pytest.mark.parametrize(
        ("page", "limit"), [(0, 10), (1, 0), (1, 101), (True, 10)], ids=["p0", "l0", "l101", "pb"]
    )
    def test_list_tasks_refuses_bad_paging_without_a_request(self, page: int, limit: int) -> None:
        """An out-of-range page or limit is InvalidTaskData before any request."""
        seen: list[httpx.Request] = []
        with pytest.raises(InvalidTaskData):
            mock(ok(), seen).list_tasks(page=page, limit=limit)
        assert seen == []

    @pytest.mark.parametrize("task_id", ["", "a b", "a\nb", "x" * 257], ids=repr)
    def test_invalid_ids_are_refused_without_a_request(self, task_id: str) -> None:
        """check_id runs first: InvalidTaskData, nothing sent."""
        seen: list[httpx.Request] = []
        transport = mock(ok(), seen)
        with pytest.raises(InvalidTaskData):
            transport.get_status(task_id)
        with pytest.raises(InvalidTaskData):
            transport.push(task_id, Action.PAUSE)
        assert seen == []

    @pytest.mark.parametrize("action", [Action.START, Action.FINISH, Action.FAIL], ids=str)
    def test_remote_actions_cannot_be_pushed(self, action: Action) -> None:
        """start/finish/fail are the remote's: InvalidTaskData, nothing sent."""
        seen: list[httpx.Request] = []
        with pytest.raises(InvalidTaskData):
            mock(ok(), seen).push("t", action)
        assert seen == []

    def test_one_client_for_every_call(self) -> None:
        """The transport builds one httpx.Client and reuses it (one pool)."""
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

    def test_a_closed_transport_raises_connection_failed(self) -> None:
        """A call after close() is ConnectionFailed (never sent), not httpx's RuntimeError."""
        transport = BrowserUseTransport(KEY, base_url=BASE)
        transport.close()
        with pytest.raises(ConnectionFailed) as caught:
            transport.get_status("t")
        assert caught.value.may_have_reached_server is False

    def test_async_push_shapes_the_same_request(self) -> None:
        """The async transport sends the same PUT."""
        seen: list[httpx.Request] = []

        def record(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(200, json={})

        async def run() -> None:
            client = httpx.AsyncClient(transport=httpx.MockTransport(record))
            async with AsyncBrowserUseTransport(KEY, base_url=BASE, client=client) as transport:
                await transport.push("task_1", Action.STOP)
            await client.aclose()

        asyncio.run(run())
        assert str(seen[0].url) == f"{BASE}/api/v1/stop-task?task_id=task_1"

    def test_both_satisfy_their_protocols(self) -> None:
        """BrowserUseTransport is a Transport, the async one an AsyncTransport."""
        sync = BrowserUseTransport(KEY, base_url=BASE)
        asynchronous = AsyncBrowserUseTransport(KEY, base_url=BASE)
        assert isinstance(sync, Transport)
        assert isinstance(asynchronous, AsyncTransport)
        sync.close()
        asyncio.run(asynchronous.close())


STATUS_ERRORS = [
    (400, ActionRefused), (401, AuthError), (403, AuthError), (404, TaskNotFound),
    (409, ActionRefused), (422, ValidationFailed), (429, RateLimited), (500, ServerError),
    (502, ServerError), (503, ServerError), (504, ServerError), (418, TransportError),
    (302, TransportError), (201, ProtocolError),
]  # fmt: skip


class TestStatusMapping:
    @pytest.mark.parametrize(
        ("code", "error"), STATUS_ERRORS, ids=[str(c) for c, _ in STATUS_ERRORS]
    )
    def test_status_codes(self, code: int, error: type[TransportError]) -> None:
        """Each HTTP status becomes its error, with status_code, detail, method and path."""
        handler = lambda request: httpx.Response(code, json={"detail": "why"})  # noqa: E731
        with pytest.raises(error) as caught:
            mock(handler).get_task("task_1")
        assert type(caught.value) is error
        assert caught.value.status_code == code
        assert caught.value.detail == "why"
        assert (caught.value.method, caught.value.path) == ("GET", "/api/v1/task/task_1")

    def test_retry_after_is_read(self) -> None:
        """429 with Retry-After: 7 carries retry_after=7.0."""
        response = httpx.Response(429, headers={"Retry-After": "7"}, json={"detail": "x"})
        transport = mock(lambda r: response)
        transport._retry = RetryPolicy.never()
        with pytest.raises(RateLimited) as caught:
            transport.get_status("t")
        assert caught.value.retry_after == 7.0

    def test_a_non_json_error_body(self) -> None:
        """A 502 with an HTML body: ServerError, detail None, no crash."""
        handler = lambda request: httpx.Response(502, text="<html>bad gateway</html>")  # noqa: E731
        transport = mock(handler)
        transport._retry = RetryPolicy.never()
        with pytest.raises(ServerError) as caught:
            transport.get_status("t")
        assert caught.value.detail is None


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
        "url", ["http://api.example.com", "http://10.0.0.1:8000", "ftp://x", "nohost", "https://"]
    )
    def test_unsafe_or_malformed_base_urls_are_refused(self, url: str) -> None:
        """Plain http to a non-loopback host, other schemes and hostless URLs: refused."""
        with pytest.raises(InvalidTaskData, match="base_url"):
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

    @pytest.mark.parametrize("key", [None, "", "two words", "line\nbreak"], ids=repr)
    def test_missing_or_malformed_keys(
        self, key: str | None, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """No key, or one that could inject a header: AuthError, not echoing the key."""
        monkeypatch.delenv(API_KEY_ENV, raising=False)
        with pytest.raises(AuthError) as caught:
            BrowserUseTransport(key, base_url=BASE)
        assert key is None or not key or key not in str(caught.value)

    def test_repr_holds_no_key(self) -> None:
        """repr() names the base URL only."""
        transport = BrowserUseTransport(KEY, base_url=BASE)
        assert KEY not in repr(transport)
        assert KEY not in repr(transport._client.headers)
        transport.close()

    def test_tls_verification_is_on(self) -> None:
        """The client it builds verifies certificates and host names."""
        import ssl  # noqa: PLC0415

        transport = BrowserUseTransport(KEY, base_url=BASE)
        context = transport._client._transport._pool._ssl_context  # type: ignore[attr-defined]
        assert context.verify_mode is ssl.CERT_REQUIRED
        assert context.check_hostname is True
        transport.close()

    def test_retries_are_logged_without_the_key(self, caplog: pytest.LogCaptureFixture) -> None:
        """A retried 503 logs one line naming the path, not the key."""
        caplog.set_level(logging.DEBUG, logger="tasklife")
        answers = iter(
            [httpx.Response(503, json={"detail": KEY}), httpx.Response(200, json="running")]
        )
        mock(lambda request: next(answers)).get_status("t")
        assert "retrying GET /api/v1/task/t/status" in caplog.text
        assert KEY not in caplog.text


class TestOptionalDependency:
    def test_transports_import_without_httpx(self) -> None:
        """With httpx unimportable, tasklife.transports and InMemoryTransport still work."""
        code = (
            "import sys; sys.modules['httpx'] = None\n"
            "import tasklife.transports as t\n"
            "r = t.RemoteTask.create(t.InMemoryTransport(), 'x'); r.pause()\n"
            "print(r.status, 'httpx' in sys.modules and sys.modules['httpx'] is not None)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert out.stdout.split() == ["paused", "False"]

    def test_the_http_adapters_say_how_to_install_httpx(self) -> None:
        """Without httpx, BrowserUseTransport raises ImportError naming tasklife[http]."""
        code = (
            "import sys; sys.modules['httpx'] = None\n"
            "import tasklife.transports as t\n"
            "try:\n    t.BrowserUseTransport\nexcept ImportError as e:\n    print(e)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert "pip install 'tasklife[http]'" in out.stdout

    def test_import_tasklife_does_not_load_transports(self) -> None:
        """import tasklife stays free of the transports and httpx."""
        code = (
            "import sys, tasklife; "
            "print('tasklife.transports' in sys.modules, 'httpx' in sys.modules)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert out.stdout.split() == ["False", "False"]
