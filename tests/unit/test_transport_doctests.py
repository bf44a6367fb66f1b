"""The examples in the transports' docstrings run (pytest collects README.md, not modules)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "tasklife.transports.memory",
    "tasklife.transports.remote",
    "tasklife.transports.retry",
]


class TestDocstringExamples:
    @pytest.mark.parametrize("name", MODULES)
    def test_examples_pass(self, name: str) -> None:
        """Every >>> example in the module passes (and there is at least one)."""
        result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
        assert result.attempted > 0
        assert result.failed == 0
