"""Pure rule checks for a campaign: its time window in its own time zone, and customer rules."""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.common import as_utc


def local_time(moment: datetime, timezone: str) -> datetime:
    """The wall-clock time in `timezone`; zoneinfo resolves daylight saving from the instant."""
    return as_utc(moment).astimezone(ZoneInfo(timezone))


def day_key(moment: datetime, timezone: str) -> str:
    """The calendar day "YYYY-MM-DD" in `timezone`: what per-day limits count against."""
    return local_time(moment, timezone).strftime("%Y-%m-%d")


def not_started(starts_at: datetime | None, moment: datetime) -> bool:
    return starts_at is not None and as_utc(moment) < as_utc(starts_at)


def has_ended(ends_at: datetime | None, moment: datetime) -> bool:
    """`ends_at` is exclusive: the campaign is over from that instant."""
    return ends_at is not None and as_utc(moment) >= as_utc(ends_at)


def outside_hours(
    days_of_week: list[int], hours: list[int], moment: datetime, timezone: str
) -> bool:
    """True when the local weekday (ISO 1..7) or hour (0..23) is not among the allowed ones;
    an empty list allows every day or hour."""
    local = local_time(moment, timezone)
    if days_of_week and local.isoweekday() not in days_of_week:
        return True
    return bool(hours) and local.hour not in hours


def tags_match(required: list[str], tags: list[str]) -> bool:
    """The customer needs at least one of the required tags (compared case-insensitively)."""
    if not required:
        return True
    have = {tag.strip().lower() for tag in tags}
    return any(tag.strip().lower() in have for tag in required)


def attributes_match(required: dict[str, Any], attributes: dict[str, Any]) -> bool:
    """Every required attribute must be present with an equal value."""
    return all(
        key in attributes and _same_value(attributes[key], value) for key, value in required.items()
    )


def _same_value(found: Any, wanted: Any) -> bool:
    # In Python True == 1; a rule asking for true must not match a customer attribute of 1.
    if isinstance(found, bool) != isinstance(wanted, bool):
        return False
    return bool(found == wanted)
