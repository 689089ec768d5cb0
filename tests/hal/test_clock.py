"""Clocks: timer order and ties on the virtual clock, real waiting and resilience on the monotonic one."""

from __future__ import annotations

import threading
import time
from functools import partial

import pytest

from hal.clock import MonotonicClock, VirtualClock


def test_virtual_timers_fire_in_deadline_order_each_at_its_own_instant() -> None:
    clock = VirtualClock()
    fired: list[tuple[str, float]] = []
    for name, when in [("c", 3.0), ("a", 1.0), ("b", 2.0)]:

        def fire(n: str = name) -> None:
            fired.append((n, clock.now()))

        clock.call_at(when, fire)
    clock.advance_to(2.5)
    assert fired == [("a", 1.0), ("b", 2.0)]
    assert clock.now() == 2.5
    clock.advance_to(10)
    assert fired[-1] == ("c", 3.0) and clock.now() == 10


def test_virtual_ties_fire_in_the_order_they_were_set() -> None:
    clock = VirtualClock()
    fired: list[int] = []
    for i in range(20):
        clock.call_at(1.0, partial(fired.append, i))
    clock.advance_to(1.0)
    assert fired == list(range(20))


def test_virtual_timer_at_exactly_the_target_fires_and_just_after_does_not() -> None:
    clock = VirtualClock()
    fired: list[str] = []
    clock.call_at(1.0, lambda: fired.append("at"))
    clock.call_at(1.000001, lambda: fired.append("after"))
    clock.advance_to(1.0)
    assert fired == ["at"]


def test_virtual_timer_in_the_past_fires_now_and_cancelled_never() -> None:
    clock = VirtualClock(start=5.0)
    fired: list[tuple[str, float]] = []
    clock.call_at(1.0, lambda: fired.append(("late", clock.now())))
    handle = clock.call_at(6.0, lambda: fired.append(("cancelled", clock.now())))
    handle.cancel()
    clock.advance_to(7.0)
    assert fired == [("late", 5.0)]
    assert clock.next_deadline() is None


def test_virtual_callbacks_may_set_timers_that_fire_in_the_same_advance() -> None:
    clock = VirtualClock()
    fired: list[float] = []

    def tick() -> None:
        fired.append(clock.now())
        if len(fired) < 5:
            clock.call_at(clock.now() + 0.1, tick)

    clock.call_at(0.1, tick)
    clock.advance_to(1.0)
    assert fired == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])


def test_virtual_clock_never_goes_backwards() -> None:
    clock = VirtualClock(start=3.0)
    clock.advance_to(1.0)
    assert clock.now() == 3.0


def test_monotonic_timer_waits_for_its_time_then_fires_once() -> None:
    clock = MonotonicClock()
    done = threading.Event()
    seen: list[float] = []
    when = clock.now() + 0.05

    def fire() -> None:
        seen.append(clock.now())
        done.set()

    clock.call_at(when, fire)
    assert done.wait(5.0)
    time.sleep(0.05)
    assert len(seen) == 1 and seen[0] >= when


def test_monotonic_timers_set_out_of_order_fire_in_deadline_order() -> None:
    clock = MonotonicClock()
    fired: list[str] = []
    done = threading.Event()
    base = clock.now()

    def fire_late() -> None:
        fired.append("late")
        done.set()

    clock.call_at(base + 0.09, fire_late)
    clock.call_at(base + 0.03, lambda: fired.append("early"))
    cancelled = clock.call_at(base + 0.06, lambda: fired.append("cancelled"))
    cancelled.cancel()
    assert done.wait(5.0)
    assert fired == ["early", "late"]


def test_monotonic_clock_keeps_serving_timers_after_a_callback_fails(caplog: pytest.LogCaptureFixture) -> None:
    clock = MonotonicClock()
    done = threading.Event()

    def broken() -> None:
        raise RuntimeError("boom")

    clock.call_at(clock.now() + 0.01, broken)
    clock.call_at(clock.now() + 0.03, done.set)
    assert done.wait(5.0), "the timer thread died with the failing callback"
    assert "timer callback failed" in caplog.text


def test_monotonic_timer_set_from_many_threads_all_fire() -> None:
    clock = MonotonicClock()
    count = 0
    lock = threading.Lock()
    all_done = threading.Event()

    def hit() -> None:
        nonlocal count
        with lock:
            count += 1
            if count == 400:
                all_done.set()

    def setter() -> None:
        for i in range(100):
            clock.call_at(clock.now() + 0.001 * (i % 7), hit)

    threads = [threading.Thread(target=setter) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all_done.wait(5.0) and count == 400
