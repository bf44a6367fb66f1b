"""Task.to_dict and Task.from_dict: exact round trips, and every bad input named."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest

from tasklife import Action, InvalidTaskData, Observation, Task, TaskStatus, TransitionRecord
from tasklife.task import SCHEMA_VERSION, UPGRADES, _new_record

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
S = TaskStatus


def sample() -> Task:
    """A task with local and remote records, a reason and some progress."""
    task = Task("task_1")
    task.reconcile(TaskStatus.RUNNING)
    task.advance(7)
    task.pause()
    task.resume()
    task.fail("out of budget")
    return task


def mutated(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(dict(sample().to_dict()))
    change(data)
    return data


class TestToDict:
    def test_round_trip_is_exact(self) -> None:
        """from_dict(to_dict(t)) equals t, records and all."""
        task = sample()
        assert Task.from_dict(task.to_dict()) == task

    def test_round_trip_through_json(self) -> None:
        """The dict is JSON-safe and survives a trip through JSON text."""
        task = sample()
        assert Task.from_dict(json.loads(json.dumps(task.to_dict()))) == task

    def test_shape(self) -> None:
        """The dict carries a schema version and the API's plain strings."""
        data = sample().to_dict()
        assert data["schema_version"] == SCHEMA_VERSION
        assert (data["status"], data["version"], data["steps"]) == ("failed", 4, 7)
        assert type(data["status"]) is str
        assert data["history"][0] == {
            "seq": 1, "action": "start", "source": "created", "dest": "running",
            "at": data["history"][0]["at"], "origin": "remote", "reason": None,
            "remote_at": None, "ref": None, "inferred": False,
        }  # fmt: skip
        assert data["history"][0]["at"].endswith("+00:00")

    def test_rehydrated_task_keeps_working(self) -> None:
        """A rehydrated task accepts further actions and records them in sequence."""
        task = Task.from_dict(Task("t").to_dict())
        task.start()
        assert [r.seq for r in task.history] == [1]


BAD: list[tuple[str, Callable[[dict[str, Any]], object], str]] = [
    ("missing-id", lambda d: d.pop("id"), "id"),
    ("missing-history", lambda d: d.pop("history"), "history"),
    ("schema-version", lambda d: d.update(schema_version=99), "schema_version"),
    ("bool-steps", lambda d: d.update(steps=True), "steps"),
    ("negative-steps", lambda d: d.update(steps=-1), "steps"),
    ("str-version", lambda d: d.update(version="5"), "version"),
    ("unknown-status", lambda d: d.update(status="sleeping"), "status"),
    ("status-not-history-end", lambda d: d.update(status="stopped"), "status"),
    ("bad-id", lambda d: d.update(id="a b"), "id"),
    ("bad-created-at", lambda d: d.update(created_at="yesterday"), "created_at"),
    ("naive-created-at", lambda d: d.update(created_at="2026-01-01T00:00:00"), "created_at"),
    ("history-not-list", lambda d: d.update(history={}), "history"),
    ("record-not-mapping", lambda d: d["history"].__setitem__(0, 7), "history[0]"),
    ("version-mismatch", lambda d: d.update(version=3), "version"),
    ("seq-gap", lambda d: d["history"][1].update(seq=3), "history[1].seq"),
    ("broken-chain", lambda d: d["history"][2].update(source="running"), "history[2].source"),
    ("illegal-rule", lambda d: d["history"][0].update(action="resume"), "history[0]"),
    ("unknown-action", lambda d: d["history"][0].update(action="jump"), "history[0].action"),
    ("missing-at", lambda d: d["history"][1].pop("at"), "history[1].at"),
    ("bad-origin", lambda d: d["history"][1].update(origin="mars"), "history[1].origin"),
    ("bad-reason", lambda d: d["history"][3].update(reason=5), "history[3].reason"),
    ("bad-dest", lambda d: d["history"][3].update(dest=None), "history[3].dest"),
    ("bad-remote-at", lambda d: d["history"][1].update(remote_at="soon"), "history[1].remote_at"),
    ("naive-remote-at", lambda d: d["history"][1].update(remote_at="2026-01-01T00:00:00"),
     "history[1].remote_at"),
    ("int-remote-at", lambda d: d["history"][1].update(remote_at=5), "history[1].remote_at"),
    ("int-ref", lambda d: d["history"][1].update(ref=5), "history[1].ref"),
    ("long-ref", lambda d: d["history"][1].update(ref="r" * 257), "history[1].ref"),
    ("str-inferred", lambda d: d["history"][1].update(inferred="yes"), "history[1].inferred"),
    ("local-inferred", lambda d: d["history"][1].update(inferred=True), "history[1].inferred"),
]  # fmt: skip


class TestFromDict:
    @pytest.mark.parametrize(("change", "field"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
    def test_bad_input_names_the_field(
        self, change: Callable[[dict[str, Any]], object], field: str
    ) -> None:
        """Each kind of bad input raises InvalidTaskData with the field's path."""
        with pytest.raises(InvalidTaskData) as caught:
            Task.from_dict(mutated(change))
        assert caught.value.field == field

    @pytest.mark.parametrize("data", [None, [], "task", 3], ids=repr)
    def test_not_a_mapping(self, data: object) -> None:
        """A value that is not a mapping at all is refused as a whole."""
        with pytest.raises(InvalidTaskData) as caught:
            Task.from_dict(data)  # type: ignore[arg-type]
        assert caught.value.field == "$"

    def test_timestamps_are_normalised_to_utc(self) -> None:
        """A timestamp with another offset is read as the same instant in UTC."""
        data = Task("t").to_dict()
        data["created_at"] = "2026-01-01T02:00:00+02:00"
        assert Task.from_dict(data).created_at.isoformat() == "2026-01-01T00:00:00+00:00"


def observed() -> Task:
    """A task with a record applied from an observation and an inferred one."""
    task = Task("task_2")
    task.observe(Observation("paused", datetime(2026, 2, 1, tzinfo=UTC), ref="evt_1", steps=2))
    return task


class TestLayouts:
    def test_observation_fields_round_trip(self) -> None:
        """remote_at, ref and inferred survive a trip through JSON."""
        task = observed()
        data = task.to_dict()
        assert [(r["inferred"], r["ref"], r["remote_at"]) for r in data["history"]] == [
            (True, None, None),
            (False, "evt_1", "2026-02-01T00:00:00+00:00"),
        ]
        assert Task.from_dict(json.loads(json.dumps(data))) == task

    def test_a_stored_layout_1_task_still_loads(self) -> None:
        """A task stored by the release that wrote layout 1 (a fixture of its to_dict) loads
        through the registered upgrade, equal to what it held, and is written as layout 2."""
        data = json.loads((FIXTURES / "task_v1.json").read_text(encoding="utf-8"))
        assert data["schema_version"] == 1
        task = Task.from_dict(data)
        assert (task.id, task.status, task.steps, task.version) == (
            "task_v1_fixture", TaskStatus.FAILED, 7, 4,
        )  # fmt: skip
        rows = [(r.action.value, r.origin, r.reason, r.at.isoformat()) for r in task.history]
        assert rows == [(r["action"], r["origin"], r["reason"], r["at"]) for r in data["history"]]
        assert all((r.remote_at, r.ref, r.inferred) == (None, None, False) for r in task.history)
        again = task.to_dict()
        assert again["schema_version"] == SCHEMA_VERSION == 2
        assert Task.from_dict(again) == task

    def test_every_older_layout_has_an_upgrade_path(self) -> None:
        """Each layout from 1 up to SCHEMA_VERSION - 1 has a registered step to the next."""
        assert sorted(UPGRADES) == list(range(1, SCHEMA_VERSION))

    @pytest.mark.parametrize(
        ("change", "field"),
        [(lambda d: d["history"][0].update(action="jump"), "history[0].action"),
         (lambda d: d.update(history={}), "history"),
         (lambda d: d["history"].__setitem__(0, 7), "history[0]"),
         (lambda d: d.pop("history"), "history")],
        ids=["bad-action", "history-not-list", "record-not-mapping", "no-history"],
    )  # fmt: skip
    def test_a_bad_layout_1_names_the_field(
        self, change: Callable[[dict[str, Any]], object], field: str
    ) -> None:
        """The upgrade never hides a bad layout-1 value: from_dict names it as for layout 2."""
        data = json.loads((FIXTURES / "task_v1.json").read_text(encoding="utf-8"))
        change(data)
        with pytest.raises(InvalidTaskData) as caught:
            Task.from_dict(data)
        assert caught.value.field == field


class TestFastRecords:
    def test_a_fast_built_record_is_an_ordinary_record(self) -> None:
        """_new_record (the hot path of actions and from_dict) gives a TransitionRecord equal
        to, hashing and printing as, and as frozen as one built by TransitionRecord()."""
        at = datetime(2026, 1, 1, tzinfo=UTC)
        fast = _new_record(3, Action.PAUSE, S.RUNNING, S.PAUSED, at, "remote", "r", at, "e", False)
        slow = TransitionRecord(3, Action.PAUSE, S.RUNNING, S.PAUSED, at, "remote", "r", at, "e")
        assert type(fast) is TransitionRecord
        assert (fast, hash(fast), repr(fast), fast.to_dict()) == (
            slow, hash(slow), repr(slow), slow.to_dict(),
        )  # fmt: skip
        assert vars(TransitionRecord)["__slots__"] == ()  # the same layout as _RecordSlots
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            setattr(fast, "seq", 4)  # noqa: B010 - the assignment a user might try
        assert attrs.evolve(fast, seq=4).seq == 4


class TestHead:
    @pytest.mark.parametrize("records", [0, 1, 5])
    def test_head_is_to_dict_without_history(self, records: int) -> None:
        """Task.head() is exactly to_dict() without its history, in the same key order."""
        task = Task("task_head")
        task.start()
        task.advance(3)
        for n in range(records):
            task.pause() if n % 2 == 0 else task.resume()
        whole = dict(task.to_dict())
        del whole["history"]
        assert list(task.head().items()) == list(whole.items())
