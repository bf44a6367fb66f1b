"""The rewrite of pydantic-2 validation errors into the Browser Use v1 (pydantic-v1) shape."""

from __future__ import annotations

from typing import Any

import pytest

from tasklife.server.validation import v1_error, v1_errors


class TestV1Error:
    def test_missing_is_the_seed_shape(self) -> None:
        """A missing field becomes exactly the seed's "field required" / value_error.missing."""
        error = {"type": "missing", "loc": ("query", "task_id"), "msg": "Field required",
                 "input": None}  # fmt: skip
        assert v1_error(error) == {
            "loc": ["query", "task_id"],
            "msg": "field required",
            "type": "value_error.missing",
        }

    @pytest.mark.parametrize(
        ("v2", "v1"),
        [
            ("string_type", "type_error.str"),
            ("int_parsing", "type_error.integer"),
            ("bool_parsing", "type_error.bool"),
            ("dict_type", "type_error.dict"),
            ("list_type", "type_error.list"),
            ("extra_forbidden", "value_error.extra"),
        ],
        ids=["str", "int", "bool", "dict", "list", "extra"],
    )
    def test_type_errors_map_to_v1_types(self, v2: str, v1: str) -> None:
        """pydantic-2 type errors get their pydantic-v1 type."""
        assert v1_error({"type": v2, "loc": ("body", "x"), "msg": "m"})["type"] == v1

    @pytest.mark.parametrize(
        ("v2", "ctx", "msg", "v1"),
        [
            ("less_than_equal", {"le": 100}, "ensure this value is less than or equal to 100",
             "value_error.number.not_le"),
            ("greater_than_equal", {"ge": 1}, "ensure this value is greater than or equal to 1",
             "value_error.number.not_ge"),
            ("string_too_short", {"min_length": 1}, "ensure this value has at least 1 characters",
             "value_error.any_str.min_length"),
            ("too_long", {"max_length": 10}, "ensure this value has at most 10 items",
             "value_error.list.max_items"),
        ],
        ids=["le", "ge", "min-length", "max-items"],
    )  # fmt: skip
    def test_limits_carry_limit_value(
        self, v2: str, ctx: dict[str, Any], msg: str, v1: str
    ) -> None:
        """Range and length errors carry the v1 message and ctx.limit_value."""
        converted = v1_error({"type": v2, "loc": ("query", "n"), "msg": "m", "ctx": ctx})
        assert (converted["msg"], converted["type"], converted["ctx"]) == (
            msg,
            v1,
            {"limit_value": next(iter(ctx.values()))},
        )

    def test_json_invalid_uses_the_decoder_message(self) -> None:
        """A JSON decode error reports the decoder's message as value_error.jsondecode."""
        error = {"type": "json_invalid", "loc": ("body", 1), "msg": "JSON decode error",
                 "ctx": {"error": "Expecting value"}}  # fmt: skip
        assert v1_error(error) == {
            "loc": ["body", 1],
            "msg": "Expecting value",
            "type": "value_error.jsondecode",
        }

    def test_unknown_type_is_prefixed(self) -> None:
        """An error v1 had no name for becomes value_error.<v2 type> with the v2 message."""
        converted = v1_error({"type": "uuid_parsing", "loc": ("path", "id"), "msg": "bad uuid"})
        assert (converted["type"], converted["msg"]) == ("value_error.uuid_parsing", "bad uuid")

    def test_input_is_never_echoed(self) -> None:
        """The offending input (which may hold a secret) is not in the converted error."""
        converted = v1_error({"type": "string_type", "loc": ("body", "secrets"), "msg": "m",
                              "input": "hunter2"})  # fmt: skip
        assert "hunter2" not in repr(converted)

    def test_value_error_prefix_is_dropped(self) -> None:
        """A custom validator's "Value error, " prefix is removed."""
        converted = v1_error({"type": "value_error", "loc": ("body",), "msg": "Value error, no"})
        assert (converted["msg"], converted["type"]) == ("no", "value_error")

    def test_non_json_loc_parts_become_strings(self) -> None:
        """A loc part that JSON cannot hold is turned into a string."""
        assert v1_error({"type": "missing", "loc": ("body", b"x")})["loc"] == ["body", "b'x'"]


class TestV1Errors:
    def test_keeps_order_and_count(self) -> None:
        """Every error is converted, in order."""
        errors = [{"type": "missing", "loc": ("query", n)} for n in ("a", "b")]
        assert [e["loc"][1] for e in v1_errors(errors)] == ["a", "b"]
