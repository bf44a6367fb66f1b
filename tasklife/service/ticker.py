"""``Ticker``: the simulated execution's clock, one background thread for the whole service.

Ticks follow a schedule: the n-th tick is due ``n * interval`` seconds after the start, however
long each tick takes. (Waiting ``interval`` after each tick ended would let the ticks drift
later and later as the running tasks grow in number, and tasks would step slower than their
pace.) A tick that ends after the next one was due is followed by the next at once; a ticker
more than ``max_behind`` ticks late drops the ticks it missed and resumes the schedule from
the present, so a paused process or an overloaded machine is not followed by a burst.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

from tasklife.errors import positive_int, seconds

__all__ = ["Ticker"]

log = logging.getLogger("tasklife.service")


class Tickable(Protocol):
    """What a ``Ticker`` drives: ``TaskService.tick``."""

    def tick(self) -> int:
        """Advance every running task by one step; returns how many moved."""


class Ticker:
    """One background thread that calls ``service.tick()`` every ``interval`` seconds, on a
    schedule.

    ``clock`` (monotonic seconds) and ``wait`` (wait up to this many seconds; True when the
    ticker was stopped meanwhile) are injectable, so the schedule can be tested without time
    passing; by default they are ``time.monotonic`` and the stop event's own wait.
    """

    def __init__(
        self,
        service: Tickable,
        interval: float,
        *,
        max_behind: int = 10,
        clock: Callable[[], float] = time.monotonic,
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        self._interval = seconds("interval", interval)
        self._max_behind = positive_int("max_behind", max_behind)
        self._service = service
        self._clock = clock
        self._stop = threading.Event()
        self._wait = self._stop.wait if wait is None else wait
        self._thread = threading.Thread(target=self.run, name="tasklife-ticker", daemon=True)

    def start(self) -> None:
        """Start ticking in the background thread."""
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop ticking and wait for the thread to end."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def run(self) -> None:
        """Tick on the schedule until stopped (what the background thread runs)."""
        interval = self._interval
        due = self._clock() + interval
        while not self._wait(max(0.0, due - self._clock())):
            try:
                self._service.tick()
            except Exception:
                log.exception("the simulated execution tick failed; ticking on")
            due += interval
            late = self._clock() - due
            if late > self._max_behind * interval:
                missed = math.floor(late / interval) + 1
                log.warning("the ticker fell %d ticks behind; it skips them", missed)
                due += missed * interval
