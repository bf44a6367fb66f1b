"""Interleaved timing and the statistics every figure is reported with."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Mapping

import attrs

__all__ = ["Stats", "interleaved", "per_op"]


@attrs.frozen
class Stats:
    """Per-round figures of one contender: the median and the spread across rounds."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        """The median over rounds."""
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        """The lower quartile (the minimum when there are fewer than four rounds)."""
        return self._quartiles[0]

    @property
    def high(self) -> float:
        """The upper quartile (the maximum when there are fewer than four rounds)."""
        return self._quartiles[1]

    @property
    def _quartiles(self) -> tuple[float, float]:
        if len(self.values) < 4:
            return min(self.values), max(self.values)
        q = statistics.quantiles(self.values, n=4, method="inclusive")
        return q[0], q[2]

    def spread(self, scale: float = 1.0, digits: int = 2) -> str:
        """``median (p25-p75)`` scaled and rounded, as the tables show it."""
        return (
            f"{self.median * scale:.{digits}f} "
            f"({self.low * scale:.{digits}f}-{self.high * scale:.{digits}f})"
        )


def per_op(fn: Callable[[], object], number: int) -> float:
    """Seconds per call of ``fn`` over ``number`` calls (garbage collector left on)."""
    gc.collect()
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def _calibrate(fn: Callable[[], object], batch_seconds: float) -> int:
    number = 1
    while True:
        elapsed = per_op(fn, number) * number
        if elapsed >= batch_seconds / 4 or number >= 1 << 22:
            return max(1, int(number * batch_seconds / max(elapsed, 1e-9)))
        number *= 4


def interleaved(
    contenders: Mapping[str, Callable[[], object]],
    *,
    rounds: int,
    batch_seconds: float,
    numbers: int | None = None,
) -> dict[str, Stats]:
    """Seconds per call of each contender, over ``rounds`` rounds run interleaved.

    Each round runs every contender once, for about ``batch_seconds``; the order rotates from
    round to round so no contender always runs first (or always right after a heavy one).
    ``numbers`` fixes the calls per round instead of calibrating to ``batch_seconds``.
    """
    names = list(contenders)
    counts = {name: numbers or _calibrate(contenders[name], batch_seconds) for name in names}
    values: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            values[name].append(per_op(contenders[name], counts[name]))
    return {name: Stats(tuple(v)) for name, v in values.items()}
