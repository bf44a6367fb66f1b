"""``Ticker``: ticks follow a schedule, whatever each tick costs (with an injected clock)."""

from __future__ import annotations

import pytest

from tasklife import InvalidArgument
from tasklife.service import Ticker

INTERVAL = 0.5


class Timeline:
    """A fake monotonic clock, a ``wait`` that lets time pass, and a service whose tick costs
    ``cost`` seconds; it stops the ticker after ``ticks`` ticks."""

    def __init__(self, cost: float, ticks: int) -> None:
        self.now = 1000.0
        self.cost = cost
        self.ticks = ticks
        self.at: list[float] = []
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.now += seconds
        return len(self.at) >= self.ticks

    def tick(self) -> int:
        self.at.append(self.now)
        self.now += self.cost
        return 1


def run(timeline: Timeline, **options: int) -> list[float]:
    """Run a ticker to its end; the tick times relative to its start."""
    start = timeline.now
    Ticker(timeline, INTERVAL, clock=timeline.clock, wait=timeline.wait, **options).run()
    return [round(at - start, 9) for at in timeline.at]


class TestTickerSchedule:
    @pytest.mark.parametrize("cost", [0.0, 0.1, 0.3, 0.49], ids=["free", "0.1s", "0.3s", "0.49s"])
    def test_ticks_do_not_drift(self, cost: float) -> None:
        """Tick n happens n periods after the start, however long each tick takes."""
        assert run(Timeline(cost, ticks=16)) == [INTERVAL * n for n in range(1, 17)]

    def test_a_slow_tick_is_followed_at_once(self) -> None:
        """A tick that overruns the next due time is followed by the next at once, no wait."""
        timeline = Timeline(cost=0.7, ticks=4)
        assert run(timeline) == [0.5, 1.2, 1.9, 2.6]
        assert timeline.waits == [0.5, 0.0, 0.0, 0.0, 0.0]

    def test_far_behind_skips_missed_ticks(self) -> None:
        """More than max_behind ticks late: the missed ticks are dropped, not burst."""
        timeline = Timeline(cost=3.0, ticks=3)
        assert run(timeline, max_behind=2) == [0.5, 4.0, 7.5]  # back on the grid
        assert timeline.waits[1:] == [0.5, 0.5, 0.5]

    @pytest.mark.parametrize("interval", [0, -1, float("nan"), float("inf"), True, "1"], ids=repr)
    def test_interval_must_be_positive(self, interval: float) -> None:
        """A zero, negative, non-finite interval, or one that is no number, is InvalidArgument."""
        with pytest.raises(InvalidArgument):
            Ticker(Timeline(0, 0), interval)
