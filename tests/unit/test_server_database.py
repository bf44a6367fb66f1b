"""Which store ``tasklife serve --db`` names, and how it is named in a log line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tasklife import InvalidArgument
from tasklife.server.database import DatabaseOptions, describe, is_postgres, open_store
from tasklife.store import PostgresTaskStore

POSTGRES = {
    "url": "postgresql://me:pw@db.example:5432/tasks",
    "short-url": "postgres://db.example/tasks",
    "key-value": "host=db.example dbname=tasks password=pw",
    "key-value-spaced": "  dbname = tasks",
}
BAD_TIMEOUTS = {"zero": 0, "negative": -1.0, "inf": float("inf"), "nan": float("nan"),
                "bool": True, "str": "10"}  # fmt: skip
NOWHERE = "postgresql://127.0.0.1:1/nowhere"  # never reached: the timeout is refused first
SQLITE = {
    "relative": "tasklife.sqlite3",
    "folder": "data/tasks.db",
    "equals-in-folder": "./host=x.db",
    "memory": ":memory:",
    "url-like-file": "postgresql.sqlite3",
}


class TestWhichDatabase:
    @pytest.mark.parametrize("db", POSTGRES.values(), ids=POSTGRES.keys())
    def test_connection_strings_are_postgres(self, db: str) -> None:
        """A postgres URL or a libpq key=value string names PostgreSQL."""
        assert is_postgres(db)

    @pytest.mark.parametrize("db", SQLITE.values(), ids=SQLITE.keys())
    def test_anything_else_is_a_sqlite_path(self, db: str) -> None:
        """Every other string, and any Path, is a SQLite file."""
        assert not is_postgres(db)
        assert not is_postgres(Path(db))

    @pytest.mark.parametrize("db", POSTGRES.values(), ids=POSTGRES.keys())
    def test_described_without_a_password(self, db: str) -> None:
        """A log line names the database and host, never the password."""
        shown = describe(db)
        assert shown.startswith("PostgreSQL database tasks on ")
        assert "pw" not in shown

    def test_a_path_is_described_as_is(self) -> None:
        """A SQLite path shows as the path."""
        assert describe(Path("data/t.db")) == "data/t.db"


class TestTimeout:
    @pytest.mark.parametrize("timeout", BAD_TIMEOUTS.values(), ids=BAD_TIMEOUTS.keys())
    def test_refused_before_the_file_is_made(self, tmp_path: Path, timeout: Any) -> None:
        """A timeout that is no finite number of seconds > 0: InvalidArgument, no file made."""
        with pytest.raises(InvalidArgument) as info:
            open_store(tmp_path / "tasks.db", DatabaseOptions(timeout=timeout))
        assert info.value.argument == "timeout"
        assert list(tmp_path.iterdir()) == []

    @pytest.mark.parametrize("timeout", BAD_TIMEOUTS.values(), ids=BAD_TIMEOUTS.keys())
    def test_refused_before_the_pool_is_made(self, timeout: Any) -> None:
        """PostgresTaskStore refuses the same timeouts before it makes a pool."""
        with pytest.raises(InvalidArgument) as info:
            PostgresTaskStore(NOWHERE, timeout=timeout)
        assert info.value.argument == "timeout"
