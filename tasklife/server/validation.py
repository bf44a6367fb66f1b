"""Validation errors in the pydantic-v1 shape the Browser Use v1 API answers with.

FastAPI on pydantic 2 reports ``{"type": "missing", "msg": "Field required", "input": ...}``;
the v1 API (and its docs, e.g. the resume-task seed) answer
``{"loc": [...], "msg": "field required", "type": "value_error.missing"}``. ``v1_errors``
rewrites every error into that shape: the v1 message and type where pydantic 1 had one, and
``value_error.<v2 type>`` with the v2 message otherwise. ``input`` is never echoed back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

__all__ = ["v1_error", "v1_errors"]

_FIXED: Final[dict[str, tuple[str, str]]] = {
    "missing": ("field required", "value_error.missing"),
    "string_type": ("str type expected", "type_error.str"),
    "int_type": ("value is not a valid integer", "type_error.integer"),
    "int_parsing": ("value is not a valid integer", "type_error.integer"),
    "int_from_float": ("value is not a valid integer", "type_error.integer"),
    "int_parsing_size": ("value is not a valid integer", "type_error.integer"),
    "float_type": ("value is not a valid float", "type_error.float"),
    "float_parsing": ("value is not a valid float", "type_error.float"),
    "bool_type": ("value could not be parsed to a boolean", "type_error.bool"),
    "bool_parsing": ("value could not be parsed to a boolean", "type_error.bool"),
    "dict_type": ("value is not a valid dict", "type_error.dict"),
    "model_type": ("value is not a valid dict", "type_error.dict"),
    "model_attributes_type": ("value is not a valid dict", "type_error.dict"),
    "list_type": ("value is not a valid list", "type_error.list"),
    "extra_forbidden": ("extra fields not permitted", "value_error.extra"),
    "none_required": ("value is not None", "type_error.none.allowed"),
}

# v2 type -> (v1 message template, v1 type, v2 ctx key holding the limit)
_LIMITS: Final[dict[str, tuple[str, str, str]]] = {
    "greater_than_equal": (
        "ensure this value is greater than or equal to {}",
        "value_error.number.not_ge",
        "ge",
    ),
    "greater_than": ("ensure this value is greater than {}", "value_error.number.not_gt", "gt"),
    "less_than_equal": (
        "ensure this value is less than or equal to {}",
        "value_error.number.not_le",
        "le",
    ),
    "less_than": ("ensure this value is less than {}", "value_error.number.not_lt", "lt"),
    "string_too_short": (
        "ensure this value has at least {} characters",
        "value_error.any_str.min_length",
        "min_length",
    ),
    "string_too_long": (
        "ensure this value has at most {} characters",
        "value_error.any_str.max_length",
        "max_length",
    ),
    "too_short": (
        "ensure this value has at least {} items",
        "value_error.list.min_items",
        "min_length",
    ),
    "too_long": (
        "ensure this value has at most {} items",
        "value_error.list.max_items",
        "max_length",
    ),
}


def _json_safe(value: object) -> object:
    """``value`` as JSON can hold it and UTF-8 can encode it (a location may echo input)."""
    if isinstance(value, int | float | bool) or value is None:
        return value
    text = str(value)
    return text if text.isascii() else text.encode("utf-8", "backslashreplace").decode("utf-8")


def v1_error(error: Mapping[str, Any]) -> dict[str, Any]:
    """One pydantic-2 (or already v1) error dict in the pydantic-v1 shape."""
    loc = [_json_safe(part) for part in error.get("loc", ())]
    kind = str(error.get("type", ""))
    msg = str(_json_safe(error.get("msg", "")))
    ctx = error.get("ctx") or {}
    if kind in _FIXED:
        msg, kind = _FIXED[kind]
        return {"loc": loc, "msg": msg, "type": kind}
    if kind in _LIMITS:
        template, v1_kind, key = _LIMITS[kind]
        limit = _json_safe(ctx.get(key))
        return {
            "loc": loc,
            "msg": template.format(limit),
            "type": v1_kind,
            "ctx": {"limit_value": limit},
        }
    if kind == "json_invalid":
        return {"loc": loc, "msg": str(ctx.get("error", msg)), "type": "value_error.jsondecode"}
    if kind == "value_error" or kind.startswith(("value_error.", "type_error.")):
        return {"loc": loc, "msg": msg.removeprefix("Value error, "), "type": kind}
    return {"loc": loc, "msg": msg, "type": f"value_error.{kind}" if kind else "value_error"}


def v1_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every error of a validation failure, in the pydantic-v1 shape."""
    return [v1_error(error) for error in errors]
