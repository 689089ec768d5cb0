"""DeadlineDriver: serialises inputs from any thread and wakes the logic exactly at its deadlines."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from hal.clock import MonotonicClock, VirtualClock
from hal.driver import DeadlineDriver
from hal.events import Event, KeyDown


class CountingLogic:
    """Emits one event per deadline it set; records whether two calls ever overlapped."""

    def __init__(self) -> None:
        self.deadlines: list[float] = []
        self.inside = 0
        self.overlapped = False
        self.inputs = 0

    def _enter(self) -> None:
        self.inside += 1
        self.overlapped |= self.inside > 1
        time.sleep(0)  # give another thread the chance to overlap, if the driver allowed it

    def add(self, at: float, delay: float) -> Sequence[Event]:
        self._enter()
        self.inputs += 1
        self.deadlines.append(at + delay)
        self.inside -= 1
        return []

    def poll(self, at: float) -> Sequence[Event]:
        self._enter()
        due = [d for d in self.deadlines if d <= at]
        self.deadlines = [d for d in self.deadlines if d > at]
        self.inside -= 1
        return [KeyDown(d, "1") for d in due]

    def next_deadline(self) -> float | None:
        return min(self.deadlines) if self.deadlines else None


def test_deadlines_fire_at_their_instants_on_a_virtual_clock() -> None:
    clock = VirtualClock()
    logic = CountingLogic()
    events: list[Event] = []
    driver = DeadlineDriver(clock, logic, events.append)
    driver.feed(lambda at: logic.add(at, 0.3))
    driver.feed(lambda at: logic.add(at, 0.1))  # an earlier deadline re-arms the one timer
    clock.advance_to(1.0)
    assert [e.at for e in events] == [0.1, 0.3]


def test_close_cancels_the_pending_deadline() -> None:
    clock = VirtualClock()
    logic = CountingLogic()
    events: list[Event] = []
    driver = DeadlineDriver(clock, logic, events.append)
    driver.feed(lambda at: logic.add(at, 0.1))
    driver.close()
    clock.advance_to(1.0)
    assert events == []


def test_inputs_from_many_threads_never_overlap_and_none_are_lost() -> None:
    clock = MonotonicClock()
    logic = CountingLogic()
    events: list[Event] = []
    lock = threading.Lock()

    def sink(event: Event) -> None:
        with lock:
            events.append(event)

    driver = DeadlineDriver(clock, logic, sink)

    def feeder() -> None:
        for _ in range(200):
            driver.feed(lambda at: logic.add(at, 0.002))

    threads = [threading.Thread(target=feeder) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    deadline = time.monotonic() + 5
    while len(events) < 800 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert logic.inputs == 800 and len(events) == 800
    assert not logic.overlapped
