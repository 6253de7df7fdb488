"""The filter language of dynamic segments: its fields, operators and checks."""

# A dynamic segment's filter is a small JSON language, checked when saved and compiled to a
# MongoDB query when evaluated (relative times need "now"):
#
#     node      := {"all": [node, ...]} | {"any": [node, ...]} | condition
#     condition := {"field": FIELD, "op": OP, "value": VALUE}
#
# FIELDS maps each field to its kind and OPS_BY_KIND lists the operators each kind allows.

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from domain.common import as_utc
from domain.errors import DomainError, Problem
from domain.rfm import GROUPS
from domain.segments.errors import SegmentError

MAX_CONDITIONS = 100
MAX_DEPTH = 6
MAX_IN_VALUES = 1_000
MAX_TEXT_VALUE = 500
MAX_DAYS = 36_500


ATTRIBUTE_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


class FieldKind(StrEnum):
    TEXT = "TEXT"
    NUMBER = "NUMBER"
    DATE = "DATE"
    BOOL = "BOOL"
    TAGS = "TAGS"
    GROUP = "GROUP"
    ATTRIBUTE = "ATTRIBUTE"


FIELDS: dict[str, FieldKind] = {
    "name": FieldKind.TEXT,
    "email": FieldKind.TEXT,
    "phone": FieldKind.TEXT,
    "source_id": FieldKind.TEXT,
    "tags": FieldKind.TAGS,
    "consents.email": FieldKind.BOOL,
    "consents.sms": FieldKind.BOOL,
    "created_at": FieldKind.DATE,
    "metrics.orders_count": FieldKind.NUMBER,
    "metrics.total_spent": FieldKind.NUMBER,
    "metrics.first_order_at": FieldKind.DATE,
    "metrics.last_order_at": FieldKind.DATE,
    "rfm.recency": FieldKind.NUMBER,
    "rfm.frequency": FieldKind.NUMBER,
    "rfm.monetary": FieldKind.NUMBER,
    "rfm.group": FieldKind.GROUP,
    "rfm.computed_at": FieldKind.DATE,
}
COMPARISONS = ("gt", "gte", "lt", "lte")
RELATIVE = ("older_than_days", "within_days")
OPS_BY_KIND: dict[FieldKind, tuple[str, ...]] = {
    FieldKind.TEXT: ("eq", "ne", "in", "exists"),
    FieldKind.NUMBER: ("eq", "ne", "in", *COMPARISONS),
    FieldKind.DATE: (*COMPARISONS, *RELATIVE, "exists"),
    FieldKind.BOOL: ("eq", "ne"),
    FieldKind.TAGS: ("contains", "ne", "in"),
    FieldKind.GROUP: ("eq", "ne", "in"),
    FieldKind.ATTRIBUTE: ("eq", "ne", "in", *COMPARISONS, "exists", "contains"),
}
# Every date compares above this one: "is a date" without $type "date", which the embedded
# server never matches.
EARLIEST = datetime(1, 1, 1, tzinfo=UTC)


def _problem(path: str, message: str) -> Problem:
    return Problem(SegmentError.INVALID_FILTER, message, path)


def field_kind(field: Any) -> FieldKind | None:
    if not isinstance(field, str):
        return None
    if field in FIELDS:
        return FIELDS[field]
    parts = field.split(".")
    if (
        parts[0] == "attributes"
        and 2 <= len(parts) <= 4
        and all(ATTRIBUTE_KEY.match(part) for part in parts[1:])
    ):
        return FieldKind.ATTRIBUTE
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | bool) or _is_number(value)


def parse_date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = as_utc(datetime.fromisoformat(value))
    except ValueError:
        return None
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _check_scalar(kind: FieldKind, field: str, op: str, value: Any) -> tuple[Any, str | None]:
    """The value to store for one operand, or why it does not fit the field."""
    if kind == FieldKind.TEXT:
        if not isinstance(value, str) or not 0 < len(value) <= MAX_TEXT_VALUE:
            return None, f"{field} takes a string of 1 to {MAX_TEXT_VALUE} characters"
        # Emails are stored normalized to lower case.
        return (value.strip().lower() if field == "email" else value), None
    if kind == FieldKind.NUMBER:
        return (value, None) if _is_number(value) else (None, f"{field} takes a number")
    if kind == FieldKind.BOOL:
        return (value, None) if isinstance(value, bool) else (None, f"{field} takes true or false")
    if kind == FieldKind.TAGS:
        if not isinstance(value, str) or not value.strip():
            return None, "tags takes a non-empty string"
        return value.strip().lower(), None
    if kind == FieldKind.GROUP:
        if value not in GROUPS:
            return None, f"rfm.group is one of {', '.join(GROUPS)}"
        return value, None
    if kind == FieldKind.DATE:
        moment = parse_date(value)
        if moment is None:
            return None, f"{field} takes an ISO 8601 date-time, such as 2025-01-31T00:00:00Z"
        return moment.isoformat(), None
    # Attributes: any JSON scalar but null (which the embedded database cannot match).
    if op in COMPARISONS and not (_is_number(value) or isinstance(value, str)):
        return None, f"{op} on {field} takes a number or a string"
    if not _is_scalar(value) or (isinstance(value, str) and len(value) > MAX_TEXT_VALUE):
        return None, f"{field} takes a string, a number or a boolean"
    return value, None


def _check_value(kind: FieldKind, field: str, op: str, value: Any) -> tuple[Any, str | None]:
    if op == "exists":
        return (value, None) if isinstance(value, bool) else (None, "exists takes true or false")
    if op in RELATIVE:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_DAYS:
            return value, None
        return None, f"{op} takes a whole number of days from 0 to {MAX_DAYS}"
    if op == "in":
        if not isinstance(value, list) or not 0 < len(value) <= MAX_IN_VALUES:
            return None, f"in takes a list of 1 to {MAX_IN_VALUES} values"
        checked = []
        for item in value:
            stored, error = _check_scalar(kind, field, op, item)
            if error:
                return None, error
            checked.append(stored)
        return checked, None
    return _check_scalar(kind, field, op, value)


def _check_node(
    node: Any, path: str, depth: int, problems: list[Problem], counted: list[int]
) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        problems.append(_problem(path, f"filters nest at most {MAX_DEPTH} levels"))
        return {}
    if not isinstance(node, dict):
        problems.append(_problem(path, "a filter node is an object"))
        return {}
    groups = [key for key in ("all", "any") if key in node]
    if groups:
        if len(node) != 1:
            problems.append(_problem(path, "a group node has exactly one key, all or any"))
            return {}
        key = groups[0]
        children = node[key]
        if not isinstance(children, list) or not children:
            problems.append(_problem(f"{path}.{key}", f"{key} takes a non-empty list of nodes"))
            return {}
        return {
            key: [
                _check_node(child, f"{path}.{key}.{i}", depth + 1, problems, counted)
                for i, child in enumerate(children)
            ]
        }
    counted[0] += 1
    if counted[0] == MAX_CONDITIONS + 1:
        problems.append(_problem(path, f"a filter has at most {MAX_CONDITIONS} conditions"))
    unknown = set(node) - {"field", "op", "value"}
    if unknown:
        problems.append(_problem(path, f"unknown keys: {', '.join(sorted(map(str, unknown)))}"))
        return {}
    field, op = node.get("field"), node.get("op")
    kind = field_kind(field)
    if kind is None:
        problems.append(
            _problem(
                f"{path}.field",
                f"unknown field {field!r}: use one of {', '.join(FIELDS)} or attributes.<key>",
            )
        )
        return {}
    assert isinstance(field, str)
    if op not in OPS_BY_KIND[kind]:
        problems.append(
            _problem(f"{path}.op", f"{field} allows the ops {', '.join(OPS_BY_KIND[kind])}")
        )
        return {}
    if "value" not in node:
        problems.append(_problem(f"{path}.value", f"{op} needs a value"))
        return {}
    value, error = _check_value(kind, field, op, node["value"])
    if error:
        problems.append(_problem(f"{path}.value", error))
        return {}
    return {"field": field, "op": op, "value": value}


def check_filter(raw: Any) -> dict[str, Any]:
    """The filter normalized for storage; a DomainError with every problem and its path."""
    problems: list[Problem] = []
    checked = _check_node(raw, "filter", 1, problems, [0])
    if problems:
        raise DomainError.of(problems)
    return checked
