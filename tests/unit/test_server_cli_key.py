"""Where ``tasklife serve`` takes its API key from."""

from __future__ import annotations

import pytest

from tasklife.cli import api_key


class TestApiKey:
    @pytest.mark.parametrize(
        ("given", "environ", "expected"),
        [
            ("flag", {"TASKLIFE_API_KEY": "env", "BROWSER_USE_API_KEY": "bu"}, "flag"),
            (None, {"TASKLIFE_API_KEY": "env", "BROWSER_USE_API_KEY": "bu"}, "env"),
            (None, {"BROWSER_USE_API_KEY": "bu"}, "bu"),
            (None, {"TASKLIFE_API_KEY": "", "BROWSER_USE_API_KEY": "bu"}, "bu"),
            (None, {}, None),
            ("", {"TASKLIFE_API_KEY": "env"}, None),
            ("   ", {}, None),
        ],
        ids=["flag-wins", "tasklife-env", "browser-use-fallback", "empty-env-skipped",
             "nothing", "empty-flag", "blank-flag"],
    )  # fmt: skip
    def test_resolution(
        self, given: str | None, environ: dict[str, str], expected: str | None
    ) -> None:
        """--api-key, then TASKLIFE_API_KEY, then BROWSER_USE_API_KEY; blank counts as none."""
        assert api_key(given, environ) == expected
