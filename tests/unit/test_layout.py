"""The ``to_dict`` layout as types (``TaskDict``, ``RecordDict``) and its shipped JSON Schema."""

from __future__ import annotations

import importlib.resources
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from strategies import tasks

from tasklife import InvalidTaskData, Observation, RecordDict, Task, TaskDict
from tasklife.layout import json_schema

SCHEMA = json_schema()
KNOWN = {
    "$schema", "$id", "$defs", "$ref", "title", "description", "type", "enum", "const",
    "properties", "required", "additionalProperties", "items", "anyOf", "minimum", "maximum",
    "minLength", "maxLength", "format",
}  # fmt: skip
TYPES = {
    "object": dict, "array": list, "string": str, "null": type(None), "boolean": bool,
    "integer": int,
}  # fmt: skip


def errors(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Where ``value`` breaks ``schema``: a validator for exactly the keywords json_schema
    emits (any other keyword is itself an error, so the subset cannot drift unseen)."""
    unknown = set(schema) - KNOWN
    if unknown:
        return [f"{path}: unknown keyword(s) {sorted(unknown)}"]
    if "$ref" in schema:
        return errors(value, SCHEMA["$defs"][schema["$ref"].rsplit("/", 1)[1]], path)
    if "anyOf" in schema:
        found = [errors(value, option, path) for option in schema["anyOf"]]
        return [] if any(not f for f in found) else [f"{path}: matches no option"]
    problems: list[str] = []
    kind = schema.get("type")
    if kind is not None and (type(value) is not TYPES[kind]):
        return [f"{path}: not {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{path}: {value!r} not in enum")
    if "const" in schema and value != schema["const"]:
        problems.append(f"{path}: not {schema['const']!r}")
    if "minimum" in schema and value < schema["minimum"]:
        problems.append(f"{path}: below minimum")
    if "maximum" in schema and value > schema["maximum"]:
        problems.append(f"{path}: above maximum")
    if "minLength" in schema and len(value) < schema["minLength"]:
        problems.append(f"{path}: too short")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        problems.append(f"{path}: too long")
    if schema.get("format") == "date-time":
        try:
            if datetime.fromisoformat(value).utcoffset() is None:
                problems.append(f"{path}: no UTC offset")
        except ValueError:
            problems.append(f"{path}: not a date-time")
    if kind == "object":
        missing = set(schema.get("required", ())) - set(value)
        problems += [f"{path}: {key} missing" for key in sorted(missing)]
        extra = set(value) - set(schema.get("properties", {}))
        if schema.get("additionalProperties") is False and extra:
            problems.append(f"{path}: extra {sorted(extra)}")
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                problems += errors(value[key], sub, f"{path}.{key}")
    if kind == "array":
        for index, item in enumerate(value):
            problems += errors(item, schema["items"], f"{path}[{index}]")
    return problems


class TestSchema:
    def test_the_shipped_file_is_generated_from_the_types(self) -> None:
        """tasklife/task.schema.json (package data) is exactly json_schema()'s output."""
        shipped = importlib.resources.files("tasklife") / "task.schema.json"
        assert shipped.read_text(encoding="utf-8") == json.dumps(SCHEMA, indent=2) + "\n"

    def test_the_types_are_the_layout(self) -> None:
        """TaskDict and RecordDict name exactly the keys to_dict writes."""
        task = Task("t")
        task.observe(Observation("paused", datetime(2026, 1, 1, tzinfo=UTC), ref="evt"))
        data = task.to_dict()
        assert set(TaskDict.__required_keys__) == set(data)
        assert set(RecordDict.__required_keys__) == set(data["history"][0])
        assert SCHEMA["required"] == list(data)

    @given(task=tasks())
    def test_every_to_dict_validates(self, task: Task) -> None:
        """Any task's to_dict(), through JSON, is valid against the schema."""
        assert errors(json.loads(json.dumps(task.to_dict())), SCHEMA) == []

    @pytest.mark.parametrize(
        ("change", "where"),
        [
            (lambda d: d.update(status="sleeping"), "$.status"),
            (lambda d: d.pop("steps"), "$: steps missing"),
            (lambda d: d.update(extra=1), "$: extra"),
            (lambda d: d.update(steps=-1), "$.steps"),
            (lambda d: d.update(schema_version=1), "$.schema_version"),
            (lambda d: d["history"][0].update(at="yesterday"), "$.history[0].at"),
            (lambda d: d["history"][0].update(ref=""), "$.history[0].ref"),
            (lambda d: d["history"][0].update(inferred=1), "$.history[0].inferred"),
        ],
        ids=["status", "missing", "extra", "steps", "version", "at", "ref", "inferred"],
    )
    def test_the_validator_can_fail(self, change: Any, where: str) -> None:
        """Each kind of bad value breaks the schema (the check above can fail)."""
        task = Task("t")
        task.start()
        data: dict[str, Any] = json.loads(json.dumps(task.to_dict()))
        change(data)
        assert any(problem.startswith(where) for problem in errors(data, SCHEMA))


class TestDatetimes:
    def test_aware_datetimes_are_read_like_strings(self) -> None:
        """A driver's datetimes (any offset) in created_at, at and remote_at give the same task."""
        task = Task("t")
        task.observe(Observation("running", datetime(2026, 1, 1, tzinfo=UTC), ref="evt"))
        data: dict[str, Any] = json.loads(json.dumps(task.to_dict()))
        plus_two = timezone(timedelta(hours=2))
        data["created_at"] = datetime.fromisoformat(data["created_at"]).astimezone(plus_two)
        record = data["history"][0]
        record["at"] = datetime.fromisoformat(record["at"])
        record["remote_at"] = datetime.fromisoformat(record["remote_at"]).astimezone(plus_two)
        assert Task.from_dict(data) == task

    @pytest.mark.parametrize("key", ["created_at", "at", "remote_at"])
    def test_a_naive_datetime_is_refused(self, key: str) -> None:
        """A datetime without an offset is InvalidTaskData naming its field."""
        task = Task("t")
        task.observe(Observation("running", datetime(2026, 1, 1, tzinfo=UTC)))
        data: dict[str, Any] = json.loads(json.dumps(task.to_dict()))
        target = data if key == "created_at" else data["history"][0]
        target[key] = datetime(2026, 1, 1)
        with pytest.raises(InvalidTaskData) as caught:
            Task.from_dict(data)
        assert caught.value.field == (key if key == "created_at" else f"history[0].{key}")
