"""Campaign windows in the campaign's own time zone, across daylight saving changes."""

from datetime import UTC, datetime, timedelta

from domain.rules import (
    attributes_match,
    day_key,
    has_ended,
    local_time,
    not_started,
    outside_hours,
    tags_match,
)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_paris_spring_forward_skips_two_oclock() -> None:
    # 30 March 2025: at 02:00 CET the clocks jump to 03:00 CEST.
    before = utc(2025, 3, 30, 0, 59)
    after = utc(2025, 3, 30, 1, 0)
    assert local_time(before, "Europe/Paris").hour == 1
    assert local_time(after, "Europe/Paris").hour == 3
    # An 02:00-only window never opens that night.
    night = [utc(2025, 3, 29, 23, 0) + timedelta(minutes=15 * i) for i in range(16)]
    assert all(outside_hours([], [2], moment, "Europe/Paris") for moment in night)
    assert not outside_hours([], [3], after, "Europe/Paris")
    assert outside_hours([], [3], before, "Europe/Paris")


def test_paris_fall_back_opens_two_oclock_twice() -> None:
    # 26 October 2025: at 03:00 CEST the clocks go back to 02:00 CET.
    first = utc(2025, 10, 26, 0, 30)
    second = utc(2025, 10, 26, 1, 30)
    assert local_time(first, "Europe/Paris").hour == 2
    assert local_time(second, "Europe/Paris").hour == 2
    assert not outside_hours([], [2], first, "Europe/Paris")
    assert not outside_hours([], [2], second, "Europe/Paris")
    assert outside_hours([], [2], utc(2025, 10, 26, 2, 30), "Europe/Paris")


def test_day_key_follows_the_zone_around_midnight_and_dst() -> None:
    # 23:30 UTC on 29 March is 00:30 on the 30th in Paris (still CET).
    assert day_key(utc(2025, 3, 29, 23, 30), "Europe/Paris") == "2025-03-30"
    assert day_key(utc(2025, 3, 29, 23, 30), "UTC") == "2025-03-29"
    # Summer time: Paris is UTC+2, so 22:30 UTC is already the next day.
    assert day_key(utc(2025, 6, 10, 22, 30), "Europe/Paris") == "2025-06-11"
    assert day_key(utc(2025, 1, 10, 22, 30), "Europe/Paris") == "2025-01-10"
    # New York, 2 November 2025 (clocks back at 02:00 EDT): the day lasts 25 hours.
    assert day_key(utc(2025, 11, 2, 4, 30), "America/New_York") == "2025-11-02"
    assert day_key(utc(2025, 11, 3, 4, 30), "America/New_York") == "2025-11-02"
    assert day_key(utc(2025, 11, 3, 5, 0), "America/New_York") == "2025-11-03"
    # 9 March 2025 (clocks forward): the day lasts 23 hours.
    assert day_key(utc(2025, 3, 9, 4, 59), "America/New_York") == "2025-03-08"
    assert day_key(utc(2025, 3, 10, 3, 59), "America/New_York") == "2025-03-09"
    assert day_key(utc(2025, 3, 10, 4, 0), "America/New_York") == "2025-03-10"


def test_days_of_week_use_the_local_day() -> None:
    # Sunday 23:30 in New York is already Monday 04:30 in UTC.
    sunday_night = utc(2025, 11, 3, 4, 30)
    assert not outside_hours([7], [], sunday_night, "America/New_York")
    assert outside_hours([7], [], sunday_night, "UTC")
    assert not outside_hours([1], [], sunday_night, "UTC")
    # Both rules at once: a weekday and an hour.
    assert not outside_hours([7], [23], sunday_night, "America/New_York")
    assert outside_hours([7], [22], sunday_night, "America/New_York")
    assert not outside_hours([], [], sunday_night, "America/New_York")


def test_start_is_inclusive_and_end_exclusive() -> None:
    start = utc(2025, 3, 30, 1, 0)
    assert not_started(start, start - timedelta(microseconds=1))
    assert not not_started(start, start)
    assert not not_started(None, start)
    assert not has_ended(start, start - timedelta(microseconds=1))
    assert has_ended(start, start)
    assert not has_ended(None, start)
    # Naive datetimes are read as UTC.
    assert has_ended(datetime(2025, 3, 30, 1, 0), start)


def test_customer_rules() -> None:
    assert tags_match([], [])
    assert tags_match(["VIP", "staff"], ["vip"])
    assert not tags_match(["vip"], ["newsletter"])
    assert attributes_match({}, {})
    assert attributes_match({"tier": "gold"}, {"tier": "gold", "city": "Lyon"})
    assert not attributes_match({"tier": "gold"}, {"city": "Lyon"})
    assert not attributes_match({"vip": True}, {"vip": 1})
    assert attributes_match({"age": 30}, {"age": 30})
