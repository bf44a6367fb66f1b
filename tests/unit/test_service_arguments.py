"""The service layer refuses arguments that are not task data with ``InvalidArgument``."""

from __future__ import annotations

from typing import Any, cast

import pytest

from tasklife import Action, InvalidArgument
from tasklife.service import TaskService, Ticker
from tasklife.service.deliveries import WEBHOOK
from tasklife.service.tables import SERVICE, SQLStore, Tables

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
    "step_seconds-day": ("step_seconds", lambda: TaskService(NO_STORE, step_seconds=86_400)),
    "step_seconds-bool": ("step_seconds", lambda: TaskService(NO_STORE, step_seconds=True)),
    "step_seconds-str": (
        "step_seconds",
        lambda: TaskService(NO_STORE, step_seconds=cast(float, "1")),
    ),
}


class TestServiceArguments:
    @pytest.mark.parametrize(("argument", "call"), CASES.values(), ids=CASES.keys())
    def test_refused_with_invalid_argument(self, argument: str, call: Any) -> None:
        """A bad argument raises InvalidArgument naming it, before the store is touched."""
        with pytest.raises(InvalidArgument) as info:
            call()
        assert info.value.argument == argument


class TestTables:
    def test_names_come_from_the_migrations(self) -> None:
        """A component's tables and indexes are the ones its DDL creates, on every engine."""
        assert dict(SERVICE.created) == {
            "service_tasks": "TABLE", "service_by_owner": "INDEX", "service_by_due": "INDEX",
        }  # fmt: skip
        assert dict(WEBHOOK.created) == {
            "webhook_deliveries": "TABLE",
            "webhook_deliveries_due": "INDEX",
            "webhook_deliveries_task": "INDEX",
        }

    @pytest.mark.parametrize(
        "migrations",
        [
            {"sqlite": (("CREATE TABLE {x_a} (id int)",),), "postgresql": ((),)},
            {"sqlite": (("CREATE UNIQUE INDEX {y_a} ON {tasks} (id)",),)},
        ],
        ids=["engines-differ", "foreign-name"],
    )
    def test_inconsistent_migrations_are_refused(self, migrations: Any) -> None:
        """Engines that create different names, or a name outside the component, are refused."""
        with pytest.raises(InvalidArgument) as info:
            Tables("x", migrations)
        assert info.value.argument == "migrations"
