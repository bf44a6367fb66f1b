"""A wall clock for tests: a tasklife `Clock` (aware UTC datetimes) that moves only when told."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Self


class ManualClock:
    """Reads ``now``; ``at(seconds)`` sets it that long after ``start``, ``advance`` moves it on."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float) -> Self:
        self.now = self.start + timedelta(seconds=seconds)
        return self

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
