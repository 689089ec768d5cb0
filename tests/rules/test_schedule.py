"""Facility time: windows across midnight and daylight-saving changes, day and month bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from firmware.rules import schedule
from tests.rules.conftest import local, make_rules

RULES = make_rules()


def test_an_overnight_window_across_the_fall_back_night_lasts_ten_hours() -> None:
    # 2026-11-01 02:00 CDT falls back to 01:00 CST: 22:00 -> 07:00 is ten real hours that night.
    period = schedule.current_off(local(2026, 11, 1, 3, 0), RULES, "B")
    assert period is not None
    assert period.end - period.start == timedelta(hours=9)  # wall-clock difference in one zone
    assert (period.end.astimezone(UTC) - period.start.astimezone(UTC)) == timedelta(hours=10)
    assert schedule.current_off(local(2026, 11, 1, 7, 0), RULES, "B") is None


def test_next_shutoff_is_the_nearest_window_of_any_level() -> None:
    assert schedule.next_shutoff(local(2026, 11, 24, 10, 0), RULES, "A") == local(2026, 11, 24, 11, 0)
    assert schedule.next_shutoff(local(2026, 11, 24, 10, 0), RULES, "B") == local(2026, 11, 24, 22, 0)
    assert schedule.next_shutoff(local(2026, 11, 24, 10, 0), make_rules(schedule={"off": []}), "B") is None


def test_day_and_month_bounds_follow_the_facility_zone() -> None:
    start, end = schedule.day_bounds(datetime(2026, 11, 25, 5, 59, tzinfo=UTC), RULES)  # 23:59 the 24th, local
    assert (start, end) == (local(2026, 11, 24, 0, 0), local(2026, 11, 25, 0, 0))
    start, end = schedule.day_bounds(local(2026, 11, 1, 12, 0), RULES)
    assert end - start == timedelta(hours=25)  # the fall-back day, in UTC instants
    start, end = schedule.month_bounds(local(2026, 12, 31, 23, 59), RULES)
    assert (start, end) == (local(2026, 12, 1, 0, 0), local(2027, 1, 1, 0, 0))


def test_day_kinds() -> None:
    assert schedule.day_kind(local(2026, 11, 26, 0, 0).date(), RULES) == "holiday"
    assert schedule.day_kind(local(2026, 11, 28, 0, 0).date(), RULES) == "weekend"
    assert schedule.day_kind(local(2026, 11, 27, 0, 0).date(), RULES) == "weekday"
