"""Glue between a pure, time-driven classifier and a clock: feeds it inputs, wakes it at its deadlines.

Keypad scanning and hook classification are pure (inputs and times in, events out) so that the exact same
logic runs on a GPIO thread, on a virtual clock and in unit tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from hal.clock import Clock, TimerHandle
from hal.events import Event

EventSink = Callable[[Event], None]


class TimedLogic(Protocol):
    def poll(self, at: float) -> Sequence[Event]: ...

    def next_deadline(self) -> float | None: ...


class DeadlineDriver:
    """Serialises inputs from any thread into `logic` and re-arms one timer for its next deadline."""

    def __init__(self, clock: Clock, logic: TimedLogic, sink: EventSink) -> None:
        self._clock = clock
        self._logic = logic
        self._sink = sink
        self._lock = threading.RLock()
        self._timer: TimerHandle | None = None
        self._armed_for: float | None = None

    def feed(self, step: Callable[[float], Sequence[Event]]) -> None:
        with self._lock:
            for event in step(self._clock.now()):
                self._sink(event)
            self._rearm()

    def _rearm(self) -> None:
        deadline = self._logic.next_deadline()
        if deadline == self._armed_for:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._armed_for = deadline
        self._timer = None if deadline is None else self._clock.call_at(deadline, self._on_deadline)

    def _on_deadline(self) -> None:
        with self._lock:
            self._armed_for = None
            self._timer = None
        self.feed(self._logic.poll)

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = None
            self._armed_for = None
