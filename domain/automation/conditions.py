"""Triggers and conditions: which events an automation listens to and whether they match."""

import json
import re
from typing import Any

from domain.automation.models import (
    Automation,
)
from domain.automation_errors import AutomationError
from domain.errors import DomainError
from domain.event_models import (
    CUSTOMER_DORMANT,
    POINTS_CHANGED,
)

# A trigger that listens to points.changed and needs a `crossed` threshold in its conditions.
POINTS_THRESHOLD = "points.threshold"
MAX_CONDITIONS_BYTES = 4_000
OPERATORS = frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "exists"})
PROPERTY_PATH = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")


def triggers_for(*, event_name: str) -> set[str]:
    names = {event_name}
    if event_name == POINTS_CHANGED:
        names.add(POINTS_THRESHOLD)
    return names


def trigger_names(*, trigger: str) -> set[str]:
    """The event names a trigger listens to."""
    return {POINTS_CHANGED} if trigger == POINTS_THRESHOLD else {trigger}


def listens_to(*, automations: list[Automation], event_name: str) -> list[Automation]:
    """The automations the event may trigger or cancel."""
    triggers = triggers_for(event_name=event_name)
    return [a for a in automations if a.trigger in triggers or event_name in a.cancel_on]


def _lookup(properties: dict[str, Any], path: str) -> tuple[bool, Any]:
    value: Any = properties
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def _holds(operator: str, expected: Any, found: bool, value: Any) -> bool:
    if operator == "exists":
        return found == bool(expected)
    if operator == "ne":
        return not found or value != expected
    if not found:
        return False
    try:
        if operator == "eq":
            return bool(value == expected)
        if operator == "in":
            return value in expected
        if operator == "nin":
            return value not in expected
        if isinstance(value, bool) or not isinstance(value, type(expected) | int | float):
            return False
        if operator == "gt":
            return bool(value > expected)
        if operator == "gte":
            return bool(value >= expected)
        if operator == "lt":
            return bool(value < expected)
        return bool(value <= expected)
    except TypeError:
        return False


def conditions_match(*, conditions: dict[str, Any], properties: dict[str, Any]) -> bool:
    """Every condition holds. A key names a property (dotted for nested ones) and its value is
    the property's value, or an object of operators (eq ne gt gte lt lte in nin exists).
    `crossed: N` holds when a points.changed event moved the balance from below N to N or more."""
    for path, expected in conditions.items():
        if path == "crossed":
            old, new = properties.get("old"), properties.get("new")
            if not (isinstance(old, int) and isinstance(new, int) and old < expected <= new):
                return False
            continue
        found, value = _lookup(properties, path)
        if isinstance(expected, dict):
            if not all(_holds(op, arg, found, value) for op, arg in expected.items()):
                return False
        elif not _holds("eq", expected, found, value):
            return False
    return True


def check_conditions(*, raw: Any, trigger: str) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise DomainError(
            AutomationError.INVALID_CONDITIONS, "conditions must be a JSON object", "conditions"
        )
    if len(json.dumps(raw, default=str)) > MAX_CONDITIONS_BYTES:
        raise DomainError(
            AutomationError.INVALID_CONDITIONS,
            f"conditions are at most {MAX_CONDITIONS_BYTES} bytes",
            "conditions",
        )
    for path, expected in raw.items():
        if path == "crossed":
            if trigger not in (POINTS_CHANGED, POINTS_THRESHOLD):
                raise DomainError(
                    AutomationError.INVALID_CONDITIONS,
                    "crossed applies to points.changed and points.threshold only",
                    "conditions",
                )
            if isinstance(expected, bool) or not isinstance(expected, int) or expected < 1:
                raise DomainError(
                    AutomationError.INVALID_CONDITIONS,
                    "crossed is a positive number of points",
                    "conditions",
                )
            continue
        if not PROPERTY_PATH.match(path):
            raise DomainError(
                AutomationError.INVALID_CONDITIONS, f"{path!r} is not a property name", "conditions"
            )
        if isinstance(expected, dict):
            unknown = set(expected) - OPERATORS
            if not expected or unknown:
                raise DomainError(
                    AutomationError.INVALID_CONDITIONS,
                    f"operators are {', '.join(sorted(OPERATORS))}",
                    "conditions",
                )
            for operator in ("in", "nin"):
                if operator in expected and not isinstance(expected[operator], list):
                    raise DomainError(
                        AutomationError.INVALID_CONDITIONS, f"{operator} takes a list", "conditions"
                    )
    if trigger == POINTS_THRESHOLD and "crossed" not in raw:
        raise DomainError(
            AutomationError.INVALID_CONDITIONS,
            'points.threshold needs the threshold as conditions {"crossed": N}',
            "conditions",
        )
    if trigger == CUSTOMER_DORMANT:
        days = raw.get("days")
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650:
            raise DomainError(
                AutomationError.INVALID_CONDITIONS,
                'customer.dormant needs the days without an order as conditions {"days": N}',
                "conditions",
            )
    return raw
