"""Clocks that time-stamp events and run timers, real or virtual.

The same code runs on the wall clock on a device and on a virtual clock in the simulator and tests, where a
20-minute call takes milliseconds and every timing rule can be checked to the millisecond.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """Monotonic seconds plus one-shot timers; callbacks may run on another thread (real clock)."""

    def now(self) -> float: ...

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle: ...


@dataclass(order=True)
class _Timer:
    when: float
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class _TimerHeap:
    """Ordered pending timers; ties fire in the order they were set, which keeps simulations deterministic."""

    def __init__(self) -> None:
        self._heap: list[_Timer] = []
        self._seq = itertools.count()

    def push(self, when: float, callback: Callable[[], None]) -> _Timer:
        timer = _Timer(when, next(self._seq), callback)
        heapq.heappush(self._heap, timer)
        return timer

    def next_deadline(self) -> float | None:
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0].when if self._heap else None

    def pop_due(self, now: float) -> _Timer | None:
        deadline = self.next_deadline()
        if deadline is None or deadline > now:
            return None
        return heapq.heappop(self._heap)


class VirtualClock:
    """Time moves only when the simulation advances it; timers fire in deadline order."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._timers = _TimerHeap()

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        return self._timers.push(max(when, self._now), callback)

    def next_deadline(self) -> float | None:
        return self._timers.next_deadline()

    def advance_to(self, when: float) -> None:
        """Run every timer due up to `when`, each at its own instant, then stop the clock at `when`."""
        while (timer := self._timers.pop_due(when)) is not None:
            self._now = max(self._now, timer.when)
            timer.callback()
        self._now = max(self._now, when)


class MonotonicClock:
    """Wall-clock time from time.monotonic, with timers served by one daemon thread."""

    def __init__(self) -> None:
        self._timers = _TimerHeap()
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._serve, name="ringfence-timers", daemon=True)
        self._thread.start()

    def now(self) -> float:
        return time.monotonic()

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        with self._wake:
            timer = self._timers.push(when, callback)
            self._wake.notify()
        return timer

    def _serve(self) -> None:
        while True:
            with self._wake:
                timer = self._timers.pop_due(self.now())
                if timer is None:
                    deadline = self._timers.next_deadline()
                    self._wake.wait(None if deadline is None else max(0.0, deadline - self.now()))
                    continue
            try:
                timer.callback()
            except Exception:  # one failing callback must not stop every later timer on the device
                logging.getLogger(__name__).exception("timer callback failed")


class StartedClock:
    """Real time counted from a start, so a real-time run's records read like a scenario's (t 0 at the start).

    `restart` moves the start to now (once the device is assembled); `stop` runs no more timers, set or not."""

    def __init__(self) -> None:
        self._clock = MonotonicClock()
        self._t0 = self._clock.now()
        self._stopped = False

    def now(self) -> float:
        return self._clock.now() - self._t0

    def restart(self) -> None:
        self._t0 = self._clock.now()

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        def unless_stopped() -> None:
            if not self._stopped:
                callback()

        return self._clock.call_at(when + self._t0, unless_stopped)

    def stop(self) -> None:
        self._stopped = True


class WallClock:
    """Clock seconds to aware datetimes: the rules need the date and time of day (schedules, holidays)."""

    def __init__(self, base: datetime, base_clock_s: float = 0.0) -> None:
        if base.tzinfo is None:
            raise ValueError(f"wall clock base {base.isoformat()} needs a time zone")
        self.base = base
        self.base_clock_s = base_clock_s

    def __call__(self, at: float) -> datetime:
        return self.base + timedelta(seconds=at - self.base_clock_s)


def wall_clock(clock: Clock) -> WallClock:
    """A clock's seconds as the system's date and time (aware, UTC): the wall clock is read once, here, and from
    then on told by `clock`, so that dates (lockouts, schedules) follow the same time as the events."""
    return WallClock(datetime.now(UTC), clock.now())
