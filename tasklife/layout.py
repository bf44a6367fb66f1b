"""The ``to_dict`` layout as types: ``TaskDict`` and ``RecordDict``, and its JSON Schema.

``Task.to_dict()`` returns a ``TaskDict`` and ``TransitionRecord.to_dict()`` a ``RecordDict``.
``json_schema()`` derives a JSON Schema (draft 2020-12) from these two types: the Python types
give the JSON types, and the ``Annotated`` constraints (derived from the lifecycle's enums and
the domain's bounds, never restated) give enums, lengths, ranges and formats. The package
ships its output as ``tasklife/task.schema.json`` (read it with
``importlib.resources.files("tasklife") / "task.schema.json"``; a test keeps the file equal to
``json.dumps(json_schema(), indent=2)``). The schema describes what ``to_dict`` writes;
``Task.from_dict`` also reads older layouts and aware ``datetime`` objects in place of the
timestamp strings.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal, TypedDict, Union

import attrs

from tasklife.lifecycle import Action, TaskStatus
from tasklife.observation import MAX_REF_LENGTH, MAX_STEPS

__all__ = ["SCHEMA_ID", "SCHEMA_VERSION", "Origin", "RecordDict", "TaskDict", "json_schema"]

SCHEMA_VERSION: Final = 2
"""The version of the layout ``Task.to_dict`` writes."""

SCHEMA_ID: Final = f"urn:tasklife:task-layout:{SCHEMA_VERSION}"

MAX_ID_LENGTH: Final = 256

MAX_REASON_LENGTH: Final = 65_536
"""The longest ``reason`` a record may carry, in characters."""

Origin = Literal["local", "remote"]
"""Where a transition was decided: by this process (``local``) or observed on the remote."""


@attrs.frozen
class _Schema:
    """JSON Schema keywords attached to a type with ``Annotated`` (hashable, as it must be)."""

    keywords: tuple[tuple[str, object], ...]

    def items(self) -> dict[str, object]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.keywords}


def _constraint(**schema: object) -> _Schema:
    return _Schema(tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in schema.items()))


_TIMESTAMP: Final = _constraint(format="date-time")
Timestamp = Annotated[str, _TIMESTAMP]
"""An ISO 8601 timestamp with its UTC offset."""


class RecordDict(TypedDict):
    """One ``TransitionRecord`` as ``to_dict`` writes it."""

    seq: Annotated[int, _constraint(minimum=1)]
    action: Annotated[str, _constraint(enum=[a.value for a in Action])]
    source: Annotated[str, _constraint(enum=[s.value for s in TaskStatus])]
    dest: Annotated[str, _constraint(enum=[s.value for s in TaskStatus])]
    at: Timestamp
    origin: Origin
    reason: Annotated[str, _constraint(maxLength=MAX_REASON_LENGTH)] | None
    remote_at: Timestamp | None
    ref: Annotated[str, _constraint(minLength=1, maxLength=MAX_REF_LENGTH)] | None
    inferred: bool


class TaskDict(TypedDict):
    """A ``Task`` as ``to_dict`` writes it (layout ``SCHEMA_VERSION``)."""

    schema_version: Annotated[int, _constraint(const=SCHEMA_VERSION)]
    id: Annotated[str, _constraint(minLength=1, maxLength=MAX_ID_LENGTH)]
    status: Annotated[str, _constraint(enum=[s.value for s in TaskStatus])]
    version: Annotated[int, _constraint(minimum=0)]
    steps: Annotated[int, _constraint(minimum=0, maximum=MAX_STEPS)]
    created_at: Timestamp
    history: list[RecordDict]


_JSON_TYPES: Final[Mapping[object, str]] = {
    int: "integer",
    str: "string",
    bool: "boolean",
    type(None): "null",
}


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ``TaskDict`` (with ``RecordDict`` under ``$defs``)."""
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "tasklife task",
        "description": (TaskDict.__doc__ or "").strip(),
    }
    schema.update(_object(TaskDict))
    schema["$defs"] = {"RecordDict": _object(RecordDict)}
    return schema


def _object(kind: type) -> dict[str, Any]:
    hints = typing.get_type_hints(kind, include_extras=True)
    return {
        "type": "object",
        "description": (kind.__doc__ or "").strip(),
        "properties": {name: _of(hint) for name, hint in hints.items()},
        "required": list(hints),
        "additionalProperties": False,
    }


def _of(hint: object) -> dict[str, Any]:
    """The schema of one annotation."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Annotated:
        base, *extras = args
        schema = _of(base)
        for extra in extras:
            if isinstance(extra, _Schema):
                schema.update(extra.items())
        return schema
    if origin in (Union, types.UnionType):
        return {"anyOf": [_of(arg) for arg in args]}
    if origin is Literal:
        return {"enum": list(args)}
    if origin is list:
        return {"type": "array", "items": _of(args[0])}
    if hint is RecordDict:
        return {"$ref": "#/$defs/RecordDict"}
    return {"type": _JSON_TYPES[hint]}
