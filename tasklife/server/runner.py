"""``BackgroundServer``: serve an ASGI app with uvicorn from a thread, on a loopback port.

Used by ``tasklife demo`` and by the tests: the socket is bound before the thread starts (port
0 picks a free port, so there is no race for it), readiness is proven by polling a path until
it answers 200 (with a deadline), and ``stop()`` asks uvicorn to exit and joins the thread.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from typing import Any, Self

import uvicorn

from tasklife.errors import TaskLifeError

__all__ = ["BackgroundServer", "ServerNotReady"]


class ServerNotReady(TaskLifeError):
    """The background server did not answer its readiness path before the deadline."""


class BackgroundServer:
    """Run ``app`` with uvicorn in a daemon thread; a context manager that yields itself.

    >>> from fastapi import FastAPI
    >>> app = FastAPI()
    >>> @app.get("/ready")
    ... def ready() -> dict[str, str]:
    ...     return {}
    >>> with BackgroundServer(app, ready_path="/ready") as server:
    ...     server.base_url.startswith("http://127.0.0.1:")
    True
    """

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ready_path: str | None = "/api/v1/ping",
        ready_timeout: float = 15.0,
        log_level: str = "warning",
        **uvicorn_options: Any,
    ) -> None:
        # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say they
        # are TCP, and without it every response waits ~40 ms for a delayed ACK (Nagle).
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self._sock.bind((host, port))
        except OSError:
            self._sock.close()
            raise
        self.host, self.port = self._sock.getsockname()[:2]
        config = uvicorn.Config(
            app,
            log_level=log_level,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=5,
            **uvicorn_options,
        )
        self._server = uvicorn.Server(config)
        self._ready_path = ready_path
        self._ready_timeout = ready_timeout
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            name=f"tasklife-server-{self.port}",
            daemon=True,
        )

    @property
    def base_url(self) -> str:
        """``http://host:port``, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        """Start serving and wait until the server answers (``ServerNotReady`` otherwise)."""
        self._thread.start()
        deadline = time.monotonic() + self._ready_timeout
        pause = threading.Event()
        while not self._ready():
            if not self._thread.is_alive():
                self._sock.close()
                raise ServerNotReady(f"the server on {self.base_url} exited while starting")
            if time.monotonic() > deadline:
                self.stop()
                raise ServerNotReady(
                    f"the server on {self.base_url} was not ready after {self._ready_timeout}s"
                )
            pause.wait(0.01)  # the poll interval, not a synchronisation
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to finish (it runs the app's shutdown) and wait for the thread."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _ready(self) -> bool:
        if not self._server.started:
            return False
        if self._ready_path is None:
            return True
        connection = http.client.HTTPConnection(self.host, self.port, timeout=2)
        try:
            connection.request("GET", self._ready_path)
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()
