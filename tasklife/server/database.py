"""Which store ``--db`` names: a SQLite file, or a PostgreSQL database.

``--db`` is a PostgreSQL connection string when it is a URL (``postgresql://…`` or
``postgres://…``) or a libpq ``key=value`` string (``host=… dbname=…``: it starts with a
keyword and ``=``); anything else is the path of a SQLite file (write ``./name=x.db`` for a file
whose name starts like a keyword and ``=``). PostgreSQL needs the ``postgres`` extra.

A connection string is never logged nor put in a message: ``describe`` names the database
without its password.
"""

from __future__ import annotations

import re
from os import PathLike, fspath
from typing import Final

import attrs

from tasklife.errors import seconds
from tasklife.service.tables import SQLStore
from tasklife.store import SQLiteTaskStore

__all__ = ["DEFAULT_SCHEMA", "DatabaseOptions", "describe", "is_postgres", "open_store"]

DEFAULT_SCHEMA: Final = "tasklife"
_URL: Final = re.compile(r"postgres(?:ql)?://")
_KEYWORDS: Final = re.compile(r"\s*[a-z_]+\s*=")


@attrs.frozen
class DatabaseOptions:
    """How to open the database: the PostgreSQL pool's sizes and schema, and how long to wait.

    ``timeout`` is how many seconds a request waits for the database: on SQLite for the write
    lock, on PostgreSQL for a connection of the pool (and for the first connections at start).
    """

    pool_min: int = 1
    pool_max: int = 10
    timeout: float = 10.0
    schema: str = DEFAULT_SCHEMA


def is_postgres(db: str | PathLike[str]) -> bool:
    """True when ``db`` is a PostgreSQL connection string rather than a SQLite path."""
    if not isinstance(db, str):
        return False
    return bool(_URL.match(db) or _KEYWORDS.match(db))


def open_store(db: str | PathLike[str], options: DatabaseOptions | None = None) -> SQLStore:
    """The store ``db`` names, opened (its migrations applied); ``StoreError`` if it cannot be.

    Raises ``InvalidArgument`` for options out of range and ``ImportError`` naming the
    ``postgres`` extra when psycopg is missing.
    """
    options = options or DatabaseOptions()
    seconds("timeout", options.timeout)
    if not is_postgres(db):
        return SQLiteTaskStore(db, timeout=options.timeout)
    try:
        from tasklife.store.postgres import PostgresTaskStore  # noqa: PLC0415 - the extra
    except ImportError as error:
        raise ImportError(
            f"a PostgreSQL --db needs psycopg ({error.name} is missing): "
            "pip install 'tasklife[postgres]'",
            name=error.name,
        ) from error
    return PostgresTaskStore(
        fspath(db),
        schema=options.schema,
        min_size=options.pool_min,
        max_size=options.pool_max,
        timeout=options.timeout,
    )


def describe(db: str | PathLike[str]) -> str:
    """``db`` for a log line: a SQLite path as is; a PostgreSQL database by name and host only."""
    if not is_postgres(db):
        return fspath(db)
    try:
        from psycopg.conninfo import conninfo_to_dict  # noqa: PLC0415 - the extra

        parts = conninfo_to_dict(fspath(db))
    except Exception:
        return "a PostgreSQL database"
    name = parts.get("dbname") or "the default database"
    host = parts.get("host") or "the default host"
    return f"PostgreSQL database {name} on {host}"
