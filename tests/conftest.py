"""Suite-wide settings: Hypothesis profiles, the ``--run-slow`` flag and ``tests/strategies.py``.

Hypothesis profiles (choose one with ``--hypothesis-profile=NAME``):

- ``default``: what ``pytest`` runs (CI): bounded example counts, no deadline (a loaded CI
  machine must not turn into flaky ``DeadlineExceeded`` failures), derandomized so a red run
  reproduces exactly.
- ``deep``: at least 10,000 examples per property, for the long runs RELIABILITY.md records.

Tests marked ``slow`` (soaks, deep runs) are skipped unless ``--run-slow`` is given.

pytest imports test modules with ``--import-mode=importlib``, which puts nothing on
``sys.path``; this file adds ``tests/`` so every test module can ``import strategies``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

DEEP_EXAMPLES = 10_000
"""Examples per property in the ``deep`` profile (issue 6: at least 10,000)."""

settings.register_profile(
    "default",
    max_examples=100,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "deep",
    max_examples=DEEP_EXAMPLES,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def pytest_configure(config: pytest.Config) -> None:
    """Load ``default`` unless ``--hypothesis-profile`` chose another profile."""
    if config.getoption("hypothesis_profile", None) is None:
        settings.load_profile("default")


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--run-slow``: also run the tests marked ``slow``."""
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="run tests marked slow (soaks and deep property runs); see RELIABILITY.md",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``slow`` tests unless ``--run-slow`` was given."""
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow (see RELIABILITY.md)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


from store_kit import postgres_server  # noqa: E402, F401 - the PostgreSQL fixture, for every test
