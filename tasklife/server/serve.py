"""``serve``: what ``tasklife serve`` runs — the app over a SQLite file, with uvicorn."""

from __future__ import annotations

import ipaddress
import logging
import logging.handlers
import queue
from pathlib import Path

import uvicorn

from tasklife.server.app import create_app
from tasklife.store import SQLiteEmulatorStore, StoreError

__all__ = ["serve"]

log = logging.getLogger("tasklife.server")


def serve(*, host: str, port: int, db: Path, api_key: str, step_seconds: float) -> int:
    """Serve until interrupted (Ctrl-C or SIGTERM); returns the process's exit status.

    Logs go to stderr: uvicorn's start-up lines and one line per request (method, path,
    status, milliseconds) — never a header, so never the key.
    """
    listener = _log_to_stderr()
    if not _is_loopback(host):
        log.warning("binding %s: the server is reachable from other machines", host)
    try:
        store = SQLiteEmulatorStore(db)
    except StoreError as error:
        log.error("%s", error)
        return 1
    try:
        app = create_app(store, api_key, step_seconds=step_seconds, access_log=True)
        mode = f"one step every {step_seconds}s" if step_seconds else "manual steps"
        log.info("tasks in %s; simulated execution: %s", db, mode)
        uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)
    finally:
        store.close()
        listener.stop()
    return 0


def _log_to_stderr() -> logging.handlers.QueueListener:
    """Log INFO and up to stderr from a background thread.

    Request handlers only queue their record; the writing happens in the listener's thread,
    off the event loop (what writing it inline cost is in BENCHMARKS.md).
    """
    stderr = logging.StreamHandler()
    stderr.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
    messages: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = logging.handlers.QueueListener(messages, stderr)
    root = logging.getLogger()
    root.addHandler(logging.handlers.QueueHandler(messages))
    root.setLevel(logging.INFO)
    listener.start()
    return listener


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
