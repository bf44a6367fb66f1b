"""``Ticker``: the simulated execution's clock, one background thread for the whole service."""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from tasklife.errors import InvalidArgument

__all__ = ["Ticker"]

log = logging.getLogger("tasklife.service")


class Tickable(Protocol):
    """What a ``Ticker`` drives: ``TaskService.tick``."""

    def tick(self) -> int:
        """Advance every running task by one step; returns how many moved."""


class Ticker:
    """One background thread that calls ``service.tick()`` every ``interval`` seconds."""

    def __init__(self, service: Tickable, interval: float) -> None:
        if not interval > 0:
            raise InvalidArgument("interval", f"must be a positive number, not {interval!r}")
        self._service = service
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tasklife-ticker", daemon=True)

    def start(self) -> None:
        """Start ticking."""
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop ticking and wait for the thread to end."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._service.tick()
            except Exception:
                log.exception("the simulated execution tick failed; ticking on")
