"""The device's sync schedule, to the second: at start, every interval, soon after a record, backoff with
jitter after failures, a technician's request, and a link that stays down for days."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from firmware.commands import Command, StartTimer, TimerExpired
from firmware.sync.schedule import (
    TIMER,
    RunSync,
    SyncFinished,
    SyncOverdue,
    SyncRetry,
    SyncSchedule,
    SyncTiming,
    SyncWanted,
    spread,
)

TIMING = SyncTiming(interval_s=900, soon_s=2, retry_min_s=30, retry_max_s=1800, jitter=0.25, overdue_s=86400)


def timer_at(commands: Sequence[Command]) -> float:
    [timer] = [c for c in commands if isinstance(c, StartTimer) and c.name == TIMER]
    return timer.at


def runs(commands: Sequence[Command]) -> list[str]:
    return [c.reason for c in commands if isinstance(c, RunSync)]


def started(schedule: SyncSchedule, at: float = 0.0) -> None:
    assert runs(schedule.handle(SyncWanted(at, "start"))) == ["start"]


def test_a_good_session_is_followed_by_the_next_one_an_interval_later() -> None:
    schedule = SyncSchedule(TIMING, "A-12")
    started(schedule)
    assert timer_at(schedule.handle(SyncFinished(1.5, True, ""))) == 901.5
    assert runs(schedule.handle(TimerExpired(901.5, TIMER))) == ["interval"]


def test_a_record_starts_a_session_soon_and_a_burst_of_records_shares_it() -> None:
    schedule = SyncSchedule(TIMING, "A-12")
    started(schedule)
    schedule.handle(SyncFinished(1.0, True, ""))
    assert timer_at(schedule.handle(SyncWanted(100.0, "cdr"))) == 102.0
    assert not schedule.handle(SyncWanted(100.5, "charge")), "the session already due carries this one too"
    assert runs(schedule.handle(TimerExpired(102.0, TIMER))) == ["cdr"]


def test_a_record_during_a_session_starts_another_as_soon_as_it_ends() -> None:
    schedule = SyncSchedule(TIMING, "A-12")
    started(schedule)
    assert not schedule.handle(SyncWanted(0.5, "purchase"))
    assert runs(schedule.handle(SyncFinished(1.0, True, ""))) == ["purchase"]


def test_a_technician_starts_one_at_once_even_while_waiting_to_retry() -> None:
    schedule = SyncSchedule(TIMING, "A-12")
    started(schedule)
    schedule.handle(SyncFinished(1.0, False, "refused"))
    assert runs(schedule.handle(SyncWanted(5.0, "technician"))) == ["technician"]


def test_failures_back_off_doubling_with_jitter_up_to_the_ceiling() -> None:
    schedule = SyncSchedule(TIMING, "A-12")
    started(schedule)
    at, delays = 0.0, []
    for failures in range(1, 10):
        commands = schedule.handle(SyncFinished(at, False, "connection refused"))
        [retry] = [c for c in commands if isinstance(c, SyncRetry)]
        assert retry.failures == failures
        next_at = timer_at(commands)
        base = min(1800, 30 * 2 ** (failures - 1))
        assert next_at - at == pytest.approx(base * (1 + 0.25 * spread("A-12", failures)))
        assert base <= next_at - at < base * 1.25
        delays.append(next_at - at)
        assert runs(schedule.handle(TimerExpired(next_at, TIMER))) == ["retry"]
        at = next_at
    assert delays[-1] < 1800 * 1.25, "never longer than the ceiling and its jitter"
    assert not schedule.handle(SyncWanted(at, "cdr")), "a record waits for the retry already set"


def test_two_devices_do_not_retry_in_step() -> None:
    assert spread("A-12", 1) != spread("A-13", 1)
    assert all(0 <= spread("A-12", n) < 1 for n in range(100))


def test_a_link_down_for_days_is_reported_overdue_once_and_again_after_it_recovers() -> None:
    schedule = SyncSchedule(TIMING, "A-12")
    started(schedule)
    schedule.handle(SyncFinished(1.0, True, ""))
    at, overdue = 901.0, []
    schedule.handle(TimerExpired(at, TIMER))
    while at < 3 * 86400:
        commands = schedule.handle(SyncFinished(at, False, "no route to host"))
        overdue += [(at, c) for c in commands if isinstance(c, SyncOverdue)]
        at = timer_at(commands)
        schedule.handle(TimerExpired(at, TIMER))
    [(told_at, told)] = overdue
    assert told_at - 1.0 >= 86400 and told.since_s == pytest.approx(told_at - 1.0)
    assert told_at - 1.0 < 86400 + 1800 * 1.25, "said as soon as the first failure past the day"
    schedule.handle(SyncFinished(at, True, ""))
    schedule.handle(TimerExpired(at + 900, TIMER))
    again = schedule.handle(SyncFinished(at + 900 + 86400 + 1, False, "down again"))
    assert any(isinstance(c, SyncOverdue) for c in again)


def test_overdue_just_before_and_at_the_bound() -> None:
    timing = SyncTiming(interval_s=900, soon_s=2, retry_min_s=30, retry_max_s=1800, jitter=0.0, overdue_s=100)
    schedule = SyncSchedule(timing, "A-12")
    started(schedule, at=0.0)
    assert not any(isinstance(c, SyncOverdue) for c in schedule.handle(SyncFinished(99.999, False, "")))
    schedule.handle(TimerExpired(129.999, TIMER))
    assert any(isinstance(c, SyncOverdue) for c in schedule.handle(SyncFinished(100.0 + 30, False, "")))
