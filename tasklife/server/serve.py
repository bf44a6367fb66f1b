"""``serve``: what ``tasklife serve`` runs — the app over a SQLite file or a PostgreSQL
database (``tasklife.server.database``), with uvicorn.

It ends the same way on Ctrl-C and on SIGTERM: uvicorn stops accepting, finishes the requests
in flight (for up to ``SHUTDOWN_SECONDS``), the app's lifespan stops the ticker, and the store
is closed, which checkpoints SQLite's write-ahead log into the database file; the exit status
is 0. What keeps it from starting (a key no client could send, a database it cannot open, a
port it cannot bind) is one line on stderr saying what and where, and a non-zero status.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final, Literal, cast

import attrs
import uvicorn

from tasklife.errors import InvalidArgument
from tasklife.server.app import create_app
from tasklife.server.database import DatabaseOptions, describe, is_postgres, open_store
from tasklife.server.logs import FloodGate, log_to_stderr
from tasklife.server.middleware import checked_keys
from tasklife.service import WebhookSender
from tasklife.service.deliveries import DeliveryStore
from tasklife.service.sender import service_metadata
from tasklife.service.tables import SQLStore
from tasklife.service.tasks import step_period
from tasklife.store import StoreError
from tasklife.v1 import is_loopback_host

__all__ = ["SHUTDOWN_SECONDS", "Webhooks", "serve"]

SHUTDOWN_SECONDS: Final = 10
"""How long a shutdown waits for the requests in flight before it closes their connections."""

log = logging.getLogger("tasklife.server")


class _CannotStart(Exception):
    """Why the server cannot start: one line for stderr; ``status`` is the exit status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@attrs.frozen
class Webhooks:
    """Where ``serve`` sends its webhooks: the URL, the secret (never shown), how a failed
    task is sent, and whether plain ``http://`` may leave this machine."""

    url: str
    secret: str = attrs.field(repr=False)
    failed_as: Literal["stopped", "failed"] = "stopped"
    allow_http: bool = False


def serve(
    *,
    host: str,
    port: int,
    db: str | Path,
    api_key: str,
    step_seconds: float,
    options: DatabaseOptions | None = None,
    webhooks: Webhooks | None = None,
    access_log: bool = True,
) -> int:
    """Serve until Ctrl-C or SIGTERM; returns the process's exit status.

    ``db`` is a SQLite path or a PostgreSQL connection string (``tasklife.server.database``).
    0 after a clean shutdown; 2 for a key no client could send, options out of range, a
    missing ``postgres`` extra, or a webhook URL or secret that cannot be used; 1 when the
    database cannot be opened or the address cannot be bound. Logs go to stderr: uvicorn's
    start-up lines and one line per request (method, path, status, milliseconds; none with
    ``access_log=False``), never a
    header, so never the key; floods of the same warning are folded
    (``tasklife.server.logs.FloodGate``).

    With ``webhooks``, a ``WebhookSender`` in threads of its own (never on a request's path)
    sends a ``test`` event, then the event of every change of the store's change feed; it is
    stopped before the store is closed. Its delivery queue is in the same database, so a
    restarted server delivers what a killed one had not, and of several replicas on one
    database each event is sent by one.
    """
    gate = FloodGate()
    listener = log_to_stderr(gate)
    store: SQLStore | None = None
    sender: WebhookSender | None = None
    why: str | None = None
    try:
        with _sigterm_interrupts():
            keys = _keys(api_key)
            _step_period(step_seconds)  # before the database is opened, let alone created
            if not is_loopback_host(host):
                log.warning("binding %s: the server is reachable from other machines", host)
            store = _open_store(db, options or DatabaseOptions())
            try:
                app = create_app(store, keys, step_seconds=step_seconds, access_log=access_log)
            except StoreError as error:
                raise _CannotStart(
                    f"cannot open the task store {describe(db)}: {error}", 1
                ) from None
            mode = f"one step every {step_seconds}s" if step_seconds else "manual steps"
            log.info("tasks in %s; simulated execution: %s", describe(db), mode)
            if webhooks is not None:
                sender = _sender(store, webhooks)
                sender.send_test()
                sender.start()
                log.info("webhooks: %r, failed tasks sent as %r", sender, webhooks.failed_as)
            server = uvicorn.Server(
                uvicorn.Config(
                    app,
                    host=host,
                    port=port,
                    log_config=None,
                    access_log=False,
                    timeout_graceful_shutdown=SHUTDOWN_SECONDS,
                )
            )
            server.run()  # returns after a signal; uvicorn logged why when it could not bind
            status = 0 if server.started else 1
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM, before uvicorn took the signals over or after
        status = 0
    except _CannotStart as error:
        why = f"tasklife serve: {error}"
        status = error.status
    except SystemExit:  # uvicorn exits this way when it cannot start, after logging why
        status = 1
    finally:
        if sender is not None:
            sender.close()
        if store is not None:
            store.close()
        gate.flush(log)
        listener.stop()
    if why is not None:  # last, after the log lines that led to it
        print(why, file=sys.stderr)
    return status


def _sender(store: SQLStore, webhooks: Webhooks) -> WebhookSender:
    """The store's webhook sender, or ``_CannotStart`` naming what cannot be used (not how)."""
    try:
        return WebhookSender(
            cast("DeliveryStore", store),  # open_store's stores have watch() too
            webhooks.url, webhooks.secret, failed_as=webhooks.failed_as,
            allow_http=webhooks.allow_http, metadata=service_metadata(store.sql),
        )  # fmt: skip
    except InvalidArgument as error:
        raise _CannotStart(f"webhook {error.argument}: {error.problem}", 2) from None


def _keys(api_key: str) -> tuple[str, ...]:
    try:
        return checked_keys(api_key)
    except InvalidArgument as error:
        raise _CannotStart(error.problem, 2) from None


def _step_period(step_seconds: float) -> None:
    """``_CannotStart`` (status 2) for a step period the service would refuse."""
    try:
        step_period(step_seconds)
    except InvalidArgument as error:
        raise _CannotStart(f"{error.argument}: {error.problem}", 2) from None


def _open_store(db: str | Path, options: DatabaseOptions) -> SQLStore:
    """The store ``db`` names, or ``_CannotStart`` saying what is wrong with which database."""
    try:
        return open_store(db, options)
    except InvalidArgument as error:
        raise _CannotStart(f"{error.argument}: {error.problem}", 2) from None
    except ImportError as error:
        raise _CannotStart(str(error), 2) from None
    except StoreError as error:
        why = str(error) if is_postgres(db) else _why(Path(db), error)
        raise _CannotStart(f"cannot open the task store {describe(db)}: {why}", 1) from None


def _why(db: Path, error: StoreError) -> str:
    folder = db.parent
    if not folder.exists():
        return f"the folder {folder} does not exist (create it, or pass another --db)"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if db.is_dir():
        return f"{db} is a folder, not a database file"
    if not os.access(folder, os.W_OK | os.X_OK):
        return (
            f"the folder {folder} is read-only, and SQLite needs to create the database and "
            f"its -wal and -shm files there"
        )
    if db.exists() and not os.access(db, os.R_OK | os.W_OK):
        return f"{db} cannot be read and written by this user"
    return str(error).removeprefix(f"cannot open the task store at {str(db)!r}: ")


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """While serving, SIGTERM interrupts like Ctrl-C (``KeyboardInterrupt``).

    uvicorn takes both signals over while it serves (a graceful shutdown) and afterwards
    re-raises the one it caught through the handler it found: for SIGTERM that is this one,
    so the process cleans up and exits 0 instead of dying with status -15.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: Callable[..., object] | int | None = signal.signal(
        signal.SIGTERM, signal.default_int_handler
    )
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
