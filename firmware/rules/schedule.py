"""Facility time: day kinds (weekday/weekend/holiday) and phone shut-off windows, in the facility's time zone.

Every function takes the moment as an aware datetime from the caller; nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from firmware.rules.facility import FacilityRules, OffWindow
from firmware.rules.rule_types import DAY_NAMES

DayKind = Literal["weekday", "weekend", "holiday"]


def require_aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()}: expected a time with a time zone")
    return moment


def local(moment: datetime, rules: FacilityRules) -> datetime:
    return require_aware(moment).astimezone(rules.facility.zone)


def day_kind(day: date, rules: FacilityRules) -> DayKind:
    if day in rules.calendar.holidays:
        return "holiday"
    if DAY_NAMES[day.weekday()] in rules.calendar.weekend_days:
        return "weekend"
    return "weekday"


@dataclass(frozen=True)
class OffPeriod:
    start: datetime
    end: datetime


def _periods(window: OffWindow, around: datetime, rules: FacilityRules) -> list[OffPeriod]:
    """The window's occurrences starting from the day before `around` to a week after, as aware local times."""
    zone = rules.facility.zone
    periods = []
    for offset in range(-1, 8):
        day = around.date() + timedelta(days=offset)
        if window.days and DAY_NAMES[day.weekday()] not in window.days:
            continue
        end_day = day + timedelta(days=1) if window.end <= window.start else day
        start = datetime.combine(day, window.start, zone)
        end = datetime.combine(end_day, window.end, zone)
        periods.append(OffPeriod(start, end))
    return periods


def off_windows(rules: FacilityRules, housing_unit: str) -> list[OffWindow]:
    """The facility's windows and the unit's own: a phone is off when either says so."""
    return [*rules.schedule.off, *rules.unit(housing_unit).off]


def current_off(moment: datetime, rules: FacilityRules, housing_unit: str) -> OffPeriod | None:
    """The shut-off period `moment` falls in (start inclusive, end exclusive), if any."""
    now = local(moment, rules)
    instant = now.astimezone(UTC)
    for window in off_windows(rules, housing_unit):
        for period in _periods(window, now, rules):
            if period.start.astimezone(UTC) <= instant < period.end.astimezone(UTC):
                return period
    return None


def next_shutoff(moment: datetime, rules: FacilityRules, housing_unit: str) -> datetime | None:
    """When the phone next shuts off after `moment` (None if no window in the coming week)."""
    now = local(moment, rules)
    instant = now.astimezone(UTC)
    starts = [
        period.start.astimezone(UTC)
        for window in off_windows(rules, housing_unit)
        for period in _periods(window, now, rules)
        if period.start.astimezone(UTC) > instant
    ]
    return min(starts) if starts else None


def day_bounds(moment: datetime, rules: FacilityRules) -> tuple[datetime, datetime]:
    """The facility-local day containing `moment`, as UTC instants [start, end)."""
    day = local(moment, rules).date()
    zone = rules.facility.zone
    start = datetime.combine(day, datetime.min.time(), zone)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def month_bounds(moment: datetime, rules: FacilityRules) -> tuple[datetime, datetime]:
    """The facility-local calendar month containing `moment`, as UTC instants [start, end)."""
    day = local(moment, rules).date()
    zone = rules.facility.zone
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    start = datetime.combine(first, datetime.min.time(), zone)
    end = datetime.combine(following, datetime.min.time(), zone)
    return start.astimezone(UTC), end.astimezone(UTC)
