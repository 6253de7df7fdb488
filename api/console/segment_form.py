"""The segment filter builder's form: rows of field / operator / value under "all of" or "any
of", read into the filter language of dynamic segments (domain.segments.filters), and a stored
filter written back into rows. Values are only typed here (numbers, true/false, lists); every
check is the domain's check_filter, whose problems come back on the rows they belong to."""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.errors import Problem
from domain.rfm import GROUPS
from domain.segments import FIELDS, OPS_BY_KIND, RELATIVE, FieldKind
from domain.segments.errors import SegmentError

ROWS = 6
ATTRIBUTE = "attributes"
FIELD_LABELS = {
    "name": "Name",
    "email": "Email",
    "phone": "Phone",
    "source_id": "Shop id (sourceId)",
    "tags": "Tags",
    "consents.email": "Email consent",
    "consents.sms": "SMS consent",
    "created_at": "Joined",
    "metrics.orders_count": "Orders count",
    "metrics.total_spent": "Total spent (minor units)",
    "metrics.first_order_at": "First order",
    "metrics.last_order_at": "Last order",
    "rfm.recency": "RFM recency score (1-5)",
    "rfm.frequency": "RFM frequency score (1-5)",
    "rfm.monetary": "RFM monetary score (1-5)",
    "rfm.group": "RFM group",
    "rfm.computed_at": "RFM computed",
    ATTRIBUTE: "Attribute (attributes.<key>)",
}
OP_LABELS = {
    "eq": "is",
    "ne": "is not",
    "in": "is one of (comma-separated)",
    "exists": "is set (true/false)",
    "gt": "is more than / after",
    "gte": "is at least / on or after",
    "lt": "is less than / before",
    "lte": "is at most / on or before",
    "older_than_days": "is more than N days ago",
    "within_days": "is within the last N days",
    "contains": "contains",
}
ALL_OPS = tuple(OP_LABELS)


def kind_of(field_name: str) -> FieldKind | None:
    if field_name == ATTRIBUTE or field_name.startswith(ATTRIBUTE + "."):
        return FieldKind.ATTRIBUTE
    return FIELDS.get(field_name)


def field_options() -> list[tuple[str, str]]:
    return [("", "Choose a field"), *((name, label) for name, label in FIELD_LABELS.items())]


def ops_by_field() -> dict[str, list[str]]:
    """Each field's operators, for the page's script to narrow the operator list."""
    return {
        name: list(OPS_BY_KIND[kind])
        for name in FIELD_LABELS
        if (kind := kind_of(name)) is not None
    }


@dataclass
class Row:
    field: str = ""
    key: str = ""
    op: str = "eq"
    value: str = ""


@dataclass
class Builder:
    match: str = "all"
    rows: list[Row] = field(default_factory=lambda: [Row() for _ in range(ROWS)])
    filter_json: str = ""


def _number(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _boolean(text: str) -> Any:
    lowered = text.strip().lower()
    if lowered in ("true", "yes"):
        return True
    if lowered in ("false", "no"):
        return False
    return text


def _typed(kind: FieldKind, text: str) -> Any:
    """One operand as the API takes it; text that is not the right type is passed on as text
    so check_filter names what the field takes."""
    text = text.strip()
    if kind == FieldKind.NUMBER:
        return _number(text)
    if kind == FieldKind.BOOL:
        return _boolean(text)
    if kind == FieldKind.ATTRIBUTE:
        typed = _boolean(text)
        if isinstance(typed, bool):
            return typed
        number = _number(text)
        return number if text and not isinstance(number, str) else text
    return text


def _value(kind: FieldKind, op: str, text: str) -> Any:
    if op == "exists":
        return _boolean(text)
    if op in RELATIVE:
        return _number(text.strip())
    if op == "in":
        return [_typed(kind, part) for part in text.split(",") if part.strip()]
    return _typed(kind, text)


def read_builder(values: Mapping[str, str]) -> Builder:
    rows = [
        Row(
            field=values.get(f"row{i}.field", "")[:100],
            key=values.get(f"row{i}.key", "").strip()[:100],
            op=values.get(f"row{i}.op", "eq")[:40],
            value=values.get(f"row{i}.value", "")[:20_000],
        )
        for i in range(ROWS)
    ]
    match = "any" if values.get("match") == "any" else "all"
    return Builder(match=match, rows=rows, filter_json=values.get("filter_json", "")[:100_000])


@dataclass
class ReadFilter:
    """The filter to give the domain (None: no condition given) and where each of its paths
    sits on the form."""

    filter: Any
    places: dict[str, str]
    problems: list[Problem]


def filter_of(builder: Builder) -> ReadFilter:
    if builder.filter_json.strip():
        try:
            raw = json.loads(builder.filter_json)
        except json.JSONDecodeError as error:
            problem = Problem(
                SegmentError.INVALID_FILTER, f"the filter is not valid JSON: {error}", "filter_json"
            )
            return ReadFilter(filter=None, places={}, problems=[problem])
        return ReadFilter(filter=raw, places={"filter": "filter_json"}, problems=[])
    conditions: list[dict[str, Any]] = []
    places: dict[str, str] = {}
    for i, row in enumerate(builder.rows):
        if not row.field:
            continue
        kind = kind_of(row.field)
        name = f"{ATTRIBUTE}.{row.key}" if row.field == ATTRIBUTE else row.field
        position = f"filter.{builder.match}.{len(conditions)}"
        places[position] = f"row{i}.value"
        places[f"{position}.field"] = f"row{i}.key" if row.field == ATTRIBUTE else f"row{i}.field"
        places[f"{position}.op"] = f"row{i}.op"
        places[f"{position}.value"] = f"row{i}.value"
        value = _value(kind, row.op, row.value) if kind is not None else row.value
        conditions.append({"field": name, "op": row.op, "value": value})
    if not conditions:
        return ReadFilter(filter=None, places={}, problems=[])
    return ReadFilter(filter={builder.match: conditions}, places=places, problems=[])


def place_problems(problems: list[Problem], places: dict[str, str]) -> list[Problem]:
    """The domain's problems on the form's fields: a path the rows hold goes to its row, any
    other filter path to the JSON box or the filter as a whole."""
    placed = []
    for problem in problems:
        target = problem.field
        if target is not None and target.startswith("filter"):
            target = places.get(target) or places.get("filter", "filter")
        placed.append(Problem(problem.code, problem.message, target))
    return placed


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(_text(item) for item in value)
    return str(value)


def builder_of(stored: dict[str, Any]) -> Builder:
    """A stored filter as rows when it is one flat group (or one condition) of at most ROWS
    conditions; otherwise as JSON, which the form edits as such."""
    match, conditions = "all", [stored]
    for key in ("all", "any"):
        if key in stored:
            match, conditions = key, stored[key]
    flat = all("field" in condition for condition in conditions) and len(conditions) <= ROWS
    if not flat:
        return Builder(filter_json=json.dumps(stored, indent=2))
    rows = []
    for condition in conditions:
        name = str(condition["field"])
        attribute = name.startswith(ATTRIBUTE + ".")
        rows.append(
            Row(
                field=ATTRIBUTE if attribute else name,
                key=name.removeprefix(ATTRIBUTE + ".") if attribute else "",
                op=str(condition["op"]),
                value=_text(condition["value"]),
            )
        )
    rows += [Row() for _ in range(ROWS - len(rows))]
    return Builder(match=match, rows=rows)


def describe(stored: dict[str, Any], nested: bool = False) -> str:
    """The filter in words, for the segment page and the list; inner groups in brackets."""
    if "all" in stored or "any" in stored:
        key = "all" if "all" in stored else "any"
        joiner = " and " if key == "all" else " or "
        parts = [describe(child, nested=True) for child in stored[key]]
        text = joiner.join(parts)
        return f"({text})" if nested and len(parts) > 1 else text
    name = str(stored.get("field", ""))
    label = FIELD_LABELS.get(name, name)
    op = str(stored.get("op"))
    value = _text(stored.get("value"))
    if op == "exists":
        return f"{label} is set" if stored.get("value") is True else f"{label} is not set"
    if op in RELATIVE:
        days = "within the last" if op == "within_days" else "was more than"
        return f"{label} {days} {value} days" + (" ago" if op == "older_than_days" else "")
    if kind_of(name) == FieldKind.DATE:
        # Stored as UTC instants; a midnight reads as its day.
        value = value.removesuffix("T00:00:00+00:00").replace("+00:00", " UTC")
    words = OP_LABELS.get(op, op).split(" (")[0]
    if " / " in words:
        number_words, date_words = words.split(" / ")
        words = f"is {date_words}" if kind_of(name) == FieldKind.DATE else number_words
    return f"{label} {words} {value}"


VALUE_HINT = (
    "Numbers as digits; dates as 2026-01-31; true or false for consents and 'is set'; "
    f"RFM groups: {', '.join(GROUPS)}."
)
