"""Quiet hours: when an SMS may arrive, in the customer's own time zone."""

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import DomainError
from domain.quiet_hours import parse_clock, quiet_until, zone_or

PARIS = ZoneInfo("Europe/Paris")
NIGHT = (time(21), time(8))


def test_outside_quiet_hours_nothing_waits() -> None:
    noon_paris = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)  # 12:00 in Paris
    assert quiet_until(noon_paris, PARIS, *NIGHT) is None


def test_late_evening_waits_for_next_morning() -> None:
    evening = datetime(2026, 6, 1, 20, 30, tzinfo=UTC)  # 22:30 in Paris
    wake = quiet_until(evening, PARIS, *NIGHT)
    assert wake == datetime(2026, 6, 2, 6, 0, tzinfo=UTC)  # 08:00 in Paris


def test_early_morning_waits_until_the_end_the_same_day() -> None:
    early = datetime(2026, 6, 2, 3, 0, tzinfo=UTC)  # 05:00 in Paris
    assert quiet_until(early, PARIS, *NIGHT) == datetime(2026, 6, 2, 6, 0, tzinfo=UTC)


def test_a_daytime_window_that_does_not_span_midnight() -> None:
    lunch = (time(12), time(14))
    inside = datetime(2026, 6, 1, 11, 0, tzinfo=UTC)  # 13:00 in Paris
    assert quiet_until(inside, PARIS, *lunch) == datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    assert quiet_until(datetime(2026, 6, 1, 13, 0, tzinfo=UTC), PARIS, *lunch) is None


def test_wake_up_across_a_daylight_saving_change_is_local_eight_oclock() -> None:
    # The night of 24-25 October 2026 Paris goes from UTC+2 to UTC+1.
    night = datetime(2026, 10, 24, 21, 0, tzinfo=UTC)  # 23:00 in Paris
    wake = quiet_until(night, PARIS, *NIGHT)
    assert wake == datetime(2026, 10, 25, 7, 0, tzinfo=UTC)
    assert wake is not None and wake.astimezone(PARIS).hour == 8


def test_equal_start_and_end_mean_no_quiet_hours() -> None:
    assert quiet_until(datetime(2026, 6, 1, 23, 0, tzinfo=UTC), PARIS, time(9), time(9)) is None


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
def test_the_wake_up_time_is_never_inside_quiet_hours(naive: datetime) -> None:
    now = naive.replace(tzinfo=UTC)
    wake = quiet_until(now, PARIS, *NIGHT)
    if wake is not None:
        assert wake > now
        assert quiet_until(wake, PARIS, *NIGHT) is None
        local = wake.astimezone(PARIS).time()
        assert local >= time(8)


def test_zone_falls_back_to_the_project_zone() -> None:
    assert zone_or("America/New_York", "UTC") == ZoneInfo("America/New_York")
    assert zone_or("Not/AZone", "Europe/Paris") == PARIS
    assert zone_or(42, "Europe/Paris") == PARIS


@pytest.mark.parametrize("bad", ["25:00", "7:00", "08:60", "noon", ""])
def test_clock_times_are_checked(bad: str) -> None:
    with pytest.raises(DomainError) as raised:
        parse_clock(bad, "quietStart")
    assert raised.value.problems[0].field == "quietStart"
