"""``LiveServer``: a real tasklife server on a loopback port, for your tests (and ours).

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> with LiveServer.start(folder / "tasks.sqlite3", api_keys=["test-key"]) as server:
...     with server.client("test-key") as http:
...         http.post("/api/v1/run-task", json={"task": "demo"}).status_code
200
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import attrs
import httpx

from tasklife.server.app import create_app
from tasklife.server.database import DatabaseOptions, is_postgres, open_store
from tasklife.server.middleware import DEFAULT_MAX_BODY_BYTES
from tasklife.server.runner import BackgroundServer
from tasklife.service.tables import SQLStore

__all__ = ["LiveServer"]


@attrs.define
class LiveServer:
    """A running server (``create_app`` under uvicorn in a thread), its store and its address."""

    base_url: str
    db: Path | str
    store: SQLStore
    background: BackgroundServer
    api_keys: tuple[str, ...]

    @classmethod
    def start(
        cls,
        db: Path | str,
        *,
        api_keys: Sequence[str],
        step_seconds: float = 0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        database: DatabaseOptions | None = None,
        **app_options: Any,
    ) -> Self:
        """Serve a new app over ``db`` (manual mode unless ``step_seconds``): a SQLite file, or
        a PostgreSQL connection string as ``tasklife serve --db`` takes it (``database``: the
        pool and schema)."""
        store = open_store(db, database)
        try:
            app = create_app(
                store,
                list(api_keys),
                step_seconds=step_seconds,
                max_body_bytes=max_body_bytes,
                **app_options,
            )
            background = BackgroundServer(app).start()
        except BaseException:
            store.close()
            raise
        where = db if isinstance(db, str) and is_postgres(db) else Path(db)
        return cls(background.base_url, where, store, background, tuple(api_keys))

    def client(self, key: str | None, **options: Any) -> httpx.Client:
        """An ``httpx.Client`` on this server sending ``key`` as bearer (None: no header)."""
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        options.setdefault("timeout", 10)
        return httpx.Client(base_url=self.base_url, headers=headers, **options)

    def stop(self) -> None:
        """Stop serving and close the store (idempotent)."""
        self.background.stop()
        self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
