"""Quiet hours: when an SMS may arrive in the customer's own time zone."""

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.errors import CommonError, DomainError

_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_clock(value: str, field: str) -> time:
    match = _CLOCK.match(value.strip())
    if match is None:
        raise DomainError(
            CommonError.INVALID_TIME, "a time of day is written HH:MM, 00:00 to 23:59", field
        )
    return time(int(match.group(1)), int(match.group(2)))


def zone_or(name: object, fallback: str) -> ZoneInfo:
    """The customer's zone when it names a real one, else the project's."""
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo(fallback)


def quiet_until(now: datetime, zone: ZoneInfo, start: time, end: time) -> datetime | None:
    """The end of the quiet period `now` falls in, as an aware datetime; None outside it."""
    if start == end:
        return None
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    spans_midnight = start > end
    quiet = (clock >= start or clock < end) if spans_midnight else (start <= clock < end)
    if not quiet:
        return None
    day = local.date()
    if spans_midnight and clock >= start:
        day += timedelta(days=1)
    # Built from the wall clock, so a daylight-saving change in between is handled by the zone.
    wake = datetime.combine(day, end, tzinfo=zone)
    return wake.astimezone(now.tzinfo) if now.tzinfo else wake
