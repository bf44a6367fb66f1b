"""``serve``: what ``tasklife serve`` runs — the app over a SQLite file, with uvicorn.

It ends the same way on Ctrl-C and on SIGTERM: uvicorn stops accepting, finishes the requests
in flight (for up to ``SHUTDOWN_SECONDS``), the app's lifespan stops the ticker, and the store
is closed, which checkpoints SQLite's write-ahead log into the database file; the exit status
is 0. What keeps it from starting (a key no client could send, a database it cannot open, a
port it cannot bind) is one line on stderr saying what and where, and a non-zero status.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final, Literal

import attrs
import uvicorn

from tasklife.errors import InvalidArgument
from tasklife.server.app import create_app
from tasklife.server.logs import FloodGate, log_to_stderr
from tasklife.server.middleware import checked_keys
from tasklife.service import WebhookSender
from tasklife.service.sender import service_metadata
from tasklife.store import SQLiteTaskStore, StoreError

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
    db: Path,
    api_key: str,
    step_seconds: float,
    webhooks: Webhooks | None = None,
) -> int:
    """Serve until Ctrl-C or SIGTERM; returns the process's exit status.

    0 after a clean shutdown; 2 for a key no client could send, or a webhook URL or secret
    that cannot be used; 1 when the database cannot be opened or the address cannot be bound.
    Logs go to stderr: uvicorn's start-up lines and one line per request (method, path,
    status, milliseconds), never a header, so never the key; floods of the same warning are
    folded (``tasklife.server.logs.FloodGate``).

    With ``webhooks``, a ``WebhookSender`` in threads of its own (never on a request's path)
    sends a ``test`` event, then the event of every change of the store's change feed; it is
    stopped before the store is closed. Its delivery queue is in the same database, so a
    restarted server delivers what a killed one had not.
    """
    gate = FloodGate()
    listener = log_to_stderr(gate)
    store: SQLiteTaskStore | None = None
    sender: WebhookSender | None = None
    try:
        with _sigterm_interrupts():
            keys = _keys(api_key)
            if not _is_loopback(host):
                log.warning("binding %s: the server is reachable from other machines", host)
            store = _open_store(db)
            try:
                app = create_app(store, keys, step_seconds=step_seconds, access_log=True)
            except StoreError as error:
                raise _CannotStart(f"cannot open the task store {db}: {error}", 1) from None
            mode = f"one step every {step_seconds}s" if step_seconds else "manual steps"
            log.info("tasks in %s; simulated execution: %s", db, mode)
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
        print(f"tasklife serve: {error}", file=sys.stderr)
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
    return status


def _sender(store: SQLiteTaskStore, webhooks: Webhooks) -> WebhookSender:
    """The store's webhook sender, or ``_CannotStart`` naming what cannot be used (not how)."""
    try:
        return WebhookSender(
            store, webhooks.url, webhooks.secret, failed_as=webhooks.failed_as,
            allow_http=webhooks.allow_http, metadata=service_metadata(store.sql),
        )  # fmt: skip
    except InvalidArgument as error:
        raise _CannotStart(f"webhook {error.argument}: {error.problem}", 2) from None


def _keys(api_key: str) -> tuple[str, ...]:
    try:
        return checked_keys(api_key)
    except InvalidArgument as error:
        raise _CannotStart(error.problem, 2) from None


def _open_store(db: Path) -> SQLiteTaskStore:
    """The store on ``db``, or ``_CannotStart`` saying what is wrong with which path."""
    try:
        return SQLiteTaskStore(db)
    except StoreError as error:
        raise _CannotStart(f"cannot open the task store {db}: {_why(db, error)}", 1) from None


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


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
