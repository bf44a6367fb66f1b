"""The service layer refuses arguments that are not task data with ``InvalidArgument``."""

from __future__ import annotations

from typing import Any, cast

import pytest

from tasklife import Action, InvalidArgument
from tasklife.service import TaskService, Ticker
from tasklife.service.tables import SQLStore

HALF = cast(int, 1.5)
NO_STORE = cast(SQLStore, object())  # every refusal below happens before the store is used


def service() -> TaskService:
    return TaskService(NO_STORE)


CASES: dict[str, tuple[str, Any]] = {
    "max_attempts-zero": ("max_attempts", lambda: TaskService(NO_STORE, max_attempts=0)),
    "max_attempts-float": ("max_attempts", lambda: TaskService(NO_STORE, max_attempts=HALF)),
    "action-start": ("action", lambda: service().act("o", "task_1", Action.START)),
    "action-finish": ("action", lambda: service().act("o", "task_1", Action.FINISH)),
    "steps-zero": ("steps", lambda: service().advance("o", "task_1", 0)),
    "steps-bool": ("steps", lambda: service().advance("o", "task_1", True)),
    "page-zero": ("page", lambda: service().page("o", 0, 10)),
    "limit-zero": ("limit", lambda: service().page("o", 1, 0)),
    "limit-str": ("limit", lambda: service().page("o", 1, cast(int, "10"))),
    "interval-zero": ("interval", lambda: Ticker(service(), 0)),
    "interval-nan": ("interval", lambda: Ticker(service(), float("nan"))),
}


class TestServiceArguments:
    @pytest.mark.parametrize(("argument", "call"), CASES.values(), ids=CASES.keys())
    def test_refused_with_invalid_argument(self, argument: str, call: Any) -> None:
        """A bad argument raises InvalidArgument naming it, before the store is touched."""
        with pytest.raises(InvalidArgument) as info:
            call()
        assert info.value.argument == argument
