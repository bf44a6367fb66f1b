"""Live servers for integration tests: ``create_app`` served by uvicorn on 127.0.0.1.

Fixtures (reusable by every integration test module):

- ``database``: where a test's servers keep their tasks: a fresh SQLite file, or, for a test
  parametrised with ``BOTH_DATABASES`` (the tests that exercise storage), also a fresh schema
  of the run's PostgreSQL database (``database_options`` names it).
- ``server_factory``: ``server_factory(db=..., step_seconds=0, api_keys=...)`` starts a
  ``tasklife.server.testing.LiveServer`` on a free loopback port over ``database`` (or
  ``db``); every server it started is stopped (and its store closed) when the test ends.
  Readiness is proven by polling ``/api/v1/ping`` with a deadline, never by sleeping.
- ``live_server``: one manual-mode server (``step_seconds=0``: nothing moves by itself) over a
  fresh SQLite file, accepting ``api_key`` and ``other_key``; ``live_client`` is a client on it.
- ``shared_server``: one manual-mode server for the whole session, for tests that only touch
  tasks they create themselves (starting a server costs ~0.2 s, a test should not pay it).
- ``client`` / ``other_client``: ``httpx.Client``s on ``shared_server`` with each key.
- ``new_task``: create a task on ``shared_server`` and return its id.
- ``operations``: every operation ``shared_server``'s OpenAPI schema lists, as (method, path
  template, where its ``task_id`` goes: "path", "query" or None), so that a test over every
  route cannot miss a new one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from tasklife.server.database import DatabaseOptions
from tasklife.server.testing import LiveServer

ServerFactory = Callable[..., LiveServer]
BOTH_DATABASES = pytest.mark.parametrize("database", ["sqlite", "postgresql"], indirect=True)
"""Run a test on a SQLite file and on PostgreSQL (for the tests that exercise storage)."""


@pytest.fixture(scope="session")
def api_key() -> str:
    """The key ``live_server``'s first tenant uses."""
    return "tl-test-key-0123456789"


@pytest.fixture(scope="session")
def other_key() -> str:
    """A second accepted key: another tenant."""
    return "tl-other-key-9876543210"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A fresh SQLite file path in the test's temporary folder."""
    return tmp_path / "tasks.sqlite3"


@pytest.fixture
def database(request: pytest.FixtureRequest, db_path: Path) -> Path | str:
    """``db_path``, or (parametrised ``"postgresql"``) the run's PostgreSQL database."""
    if getattr(request, "param", "sqlite") == "sqlite":
        return db_path
    dsn: str = request.getfixturevalue("postgres_server")
    return dsn


@pytest.fixture
def database_options() -> DatabaseOptions:
    """A fresh PostgreSQL schema for this test's servers (SQLite ignores it)."""
    return DatabaseOptions(schema=f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def server_factory(
    database: Path | str, database_options: DatabaseOptions, api_key: str, other_key: str
) -> Iterator[ServerFactory]:
    """Start live servers on demand; all are stopped when the test ends."""
    started: list[LiveServer] = []

    def start(
        *,
        db: Path | str | None = None,
        step_seconds: float = 0,
        api_keys: Sequence[str] = (api_key, other_key),
        max_body_bytes: int = 64 * 1024,
    ) -> LiveServer:
        server = LiveServer.start(
            database if db is None else db,
            api_keys=api_keys,
            step_seconds=step_seconds,
            max_body_bytes=max_body_bytes,
            database=database_options,
        )
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def live_server(server_factory: ServerFactory) -> LiveServer:
    """A manual-mode server over a fresh SQLite file (64 KiB body limit)."""
    return server_factory()


@pytest.fixture
def live_client(live_server: LiveServer, api_key: str) -> Iterator[httpx.Client]:
    """A client on ``live_server`` with ``api_key``."""
    with live_server.client(api_key) as http:
        yield http


@pytest.fixture(scope="session")
def shared_server(
    tmp_path_factory: pytest.TempPathFactory, api_key: str, other_key: str
) -> Iterator[LiveServer]:
    """A manual-mode server shared by the whole session (64 KiB body limit)."""
    db = tmp_path_factory.mktemp("shared") / "tasks.sqlite3"
    with LiveServer.start(db, api_keys=[api_key, other_key], max_body_bytes=64 * 1024) as server:
        yield server


@pytest.fixture
def client(shared_server: LiveServer, api_key: str) -> Iterator[httpx.Client]:
    """A client on ``shared_server`` with ``api_key``."""
    with shared_server.client(api_key) as http:
        yield http


@pytest.fixture
def other_client(shared_server: LiveServer, other_key: str) -> Iterator[httpx.Client]:
    """A client on ``shared_server`` with ``other_key``, a second tenant."""
    with shared_server.client(other_key) as http:
        yield http


@pytest.fixture
def new_task(client: httpx.Client) -> Callable[..., str]:
    """Create a task on ``shared_server`` (it starts running) and return its id."""

    def create(text: str = "find the cheapest flight", **fields: object) -> str:
        response = client.post("/api/v1/run-task", json={"task": text, **fields})
        assert response.status_code == 200, response.text
        task_id = response.json()["id"]
        assert isinstance(task_id, str)
        return task_id

    return create


Operation = tuple[str, str, str | None]


@pytest.fixture(scope="session")
def operations(shared_server: LiveServer) -> list[Operation]:
    """(method, path, where task_id goes) of every operation in the server's OpenAPI schema."""
    with shared_server.client(None) as http:
        schema = http.get("/openapi.json").json()
    found: list[Operation] = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            where = next(
                (p["in"] for p in operation.get("parameters", []) if p["name"] == "task_id"), None
            )
            found.append((method.upper(), path, where))
    return found
