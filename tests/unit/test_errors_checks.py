"""The shared argument checks of ``tasklife.errors``: ``positive_int`` and ``seconds``.

Each is held to its docstring by a reference written out here from the docstring, over ints
(huge ones too), floats (NaN, both infinities, -0.0), bools, subclasses, strings, None and other
numbers.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tasklife.errors import LONGEST, InvalidArgument, interval, positive_int, seconds, shown

# The smallest int that float() cannot hold: halfway between the largest float and 2**1024
# (ties round to even, here to 2**1024, which overflows).
TOO_BIG_FOR_FLOAT = 2**1024 - 2**970


class SubInt(int):
    """An int subclass: not an ``int`` for ``positive_int``, an int for ``seconds``."""


class SubFloat(float):
    """A float subclass (like numpy's float64): a number of seconds."""


values = st.one_of(
    st.integers(),
    st.floats(),  # NaN, both infinities and -0.0 included
    st.booleans(),
    st.text(max_size=80),
    st.none(),
    st.sampled_from([TOO_BIG_FOR_FLOAT - 1, TOO_BIG_FOR_FLOAT, -TOO_BIG_FOR_FLOAT, 10**400]),
    st.integers().map(SubInt),
    st.floats().map(SubFloat),
    st.sampled_from([Decimal(1), Fraction(1, 2), 1j, b"1", [1]]),
)
names = st.from_regex(r"[a-z][a-z_]{0,19}", fullmatch=True)
mosts = st.none() | st.integers(min_value=0, max_value=10**6)
unders = st.sampled_from([math.inf, LONGEST, 86_400, 0.5])


def refused(name: str, value: object, error: InvalidArgument) -> None:
    """The one message form: the argument named, what it must be, the value as ``shown``."""
    assert error.argument == name
    assert str(error).startswith(f"{name}: must be ")
    assert str(error).endswith(f", not {shown(value)}")


class TestPositiveInt:
    @given(names, values, st.booleans(), mosts)
    @example("n", 0, False, None)
    @example("n", 0, True, None)
    @example("n", True, False, None)
    @example("n", 5, False, 5)
    @example("n", 6, False, 5)
    def test_accepts_exactly_the_documented_values(
        self, name: str, value: object, zero: bool, most: int | None
    ) -> None:
        """An int (no bool, no subclass) from 1 (0 with zero) up to most; else InvalidArgument."""
        least = 0 if zero else 1
        documented = type(value) is int and value >= least and (most is None or value <= most)
        if documented:
            assert positive_int(name, value, zero=zero, most=most) is value
        else:
            with pytest.raises(InvalidArgument) as info:
                positive_int(name, value, zero=zero, most=most)
            refused(name, value, info.value)


class TestSeconds:
    @given(names, values, st.booleans(), unders)
    @example("t", 0, False, math.inf)
    @example("t", 0, True, math.inf)
    @example("t", -0.0, True, math.inf)
    @example("t", -0.0, False, math.inf)
    @example("t", math.nan, True, math.inf)
    @example("t", math.inf, True, math.inf)
    @example("t", True, True, math.inf)
    @example("t", 86_400, True, 86_400)
    @example("t", TOO_BIG_FOR_FLOAT - 1, False, math.inf)
    @example("t", TOO_BIG_FOR_FLOAT, False, math.inf)
    @example("t", 1e300, False, LONGEST)
    @example("t", LONGEST, False, LONGEST)
    def test_accepts_exactly_the_documented_values(
        self, name: str, value: object, zero: bool, under: float
    ) -> None:
        """A finite int or float (no bool), > 0 (>= 0 with zero), < under; else refused."""
        documented: float | None = None  # the float seconds() must return, when it accepts
        if isinstance(value, int | float) and not isinstance(value, bool):
            fits = (
                abs(value) < TOO_BIG_FOR_FLOAT if isinstance(value, int) else math.isfinite(value)
            )
            if fits and (value >= 0 if zero else value > 0) and value < under:
                documented = float(value)
        if documented is not None:
            got = seconds(name, value, zero=zero, under=under)
            assert type(got) is float
            assert got == documented
            assert math.copysign(1.0, got) == 1.0  # -0.0 comes back as 0.0
        else:
            with pytest.raises(InvalidArgument) as info:
                seconds(name, value, zero=zero, under=under)
            refused(name, value, info.value)


MESSAGES = {
    "int": (lambda: positive_int("batch", -3), "must be an integer >= 1, not -3"),
    "int-zero": (lambda: positive_int("batch", -3, zero=True), "must be an integer >= 0, not -3"),
    "int-most": (
        lambda: positive_int("batch", -3, most=100),
        "must be an integer from 1 to 100, not -3",
    ),
    "seconds": (
        lambda: seconds("batch", 1e999),
        "must be a number of seconds > 0 and under 9.22337e+09, not inf",
    ),
    "seconds-zero": (
        lambda: seconds("batch", -1.5, zero=True),
        "must be a number of seconds >= 0 and under 9.22337e+09, not -1.5",
    ),
    "seconds-finite": (
        lambda: seconds("batch", math.inf, under=math.inf),
        "must be a finite number of seconds > 0, not inf",
    ),
    "seconds-under": (
        lambda: seconds("batch", 86_400, zero=True, under=86_400),
        "must be a number of seconds >= 0 and under 86400, not 86400",
    ),
}


class TestLongest:
    def test_the_default_bound_is_longest(self) -> None:
        """A number of seconds past what a wait or sleep can take is refused by default."""
        assert seconds("t", LONGEST / 2) == LONGEST / 2
        with pytest.raises(InvalidArgument):
            seconds("t", 1e300)

    def test_longest_is_what_a_wait_takes(self) -> None:
        """LONGEST is the bound of the standard library's waits (one past it overflows)."""
        assert threading.Event().wait(0) is False
        with pytest.raises(OverflowError):
            threading.Event().wait(LONGEST * 2)


class TestMessages:
    @pytest.mark.parametrize(("call", "problem"), MESSAGES.values(), ids=MESSAGES.keys())
    def test_says_the_bounds_asked_for(self, call: Callable[[], object], problem: str) -> None:
        """The message names the argument, the bounds the call asked for, and the value."""
        with pytest.raises(InvalidArgument) as info:
            call()
        assert str(info.value) == f"batch: {problem}"


class TestShown:
    @pytest.mark.parametrize("value", [1.5, -0.0, math.nan, -math.inf, 1e300], ids=repr)
    def test_a_float_is_quoted(self, value: float) -> None:
        """A float is quoted as its repr (short whatever its value)."""
        assert shown(value) == repr(value)


class TestInterval:
    @given(st.timedeltas())
    def test_a_timedelta_from_zero_passes_and_a_negative_one_does_not(
        self, value: timedelta
    ) -> None:
        """A timedelta >= 0 comes back as it is; a negative one is refused, quoted by repr."""
        if value >= timedelta(0):
            assert interval("skew", value) is value
        else:
            with pytest.raises(InvalidArgument) as info:
                interval("skew", value)
            assert str(info.value) == f"skew: must be a timedelta >= 0, not {value!r}"

    @pytest.mark.parametrize("value", [0, 1.5, None, "1s", True, datetime(2026, 1, 1)], ids=repr)
    def test_anything_else_is_refused(self, value: object) -> None:
        """Numbers, strings, None and datetimes are no interval."""
        with pytest.raises(InvalidArgument) as info:
            interval("older_than", value)
        assert info.value.argument == "older_than"
        assert str(info.value).endswith(f"not {shown(value)}")
