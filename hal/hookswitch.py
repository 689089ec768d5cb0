"""The hookswitch: debounced, with every on-hook interval classified by duration.

An on-hook interval shorter than `bounce_ms` is contact bounce; up to `pulse_ms` it is a dial pulse (a train of
them is somebody pulse-dialing around the keypad, which is reported); up to `flash_ms` it is a hookflash;
anything longer is a hang-up. Defaults follow DAHDI. Off-hook must be stable for `offhook_debounce_ms` before it
counts, so that a handset rattled in its cradle does not start a call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hal.clock import Clock
from hal.driver import DeadlineDriver, EventSink
from hal.events import Event, HookFlash, HookPulseTrain, OffHook, OnHook


@dataclass(frozen=True)
class HookTiming:
    bounce_ms: float = 15.0
    pulse_ms: float = 200.0
    flash_ms: float = 1250.0
    offhook_debounce_ms: float = 30.0
    #: Off-hook time after the last pulse that closes a pulse train (inter-digit pause of rotary dialing).
    pulse_train_gap_ms: float = 400.0

    def __post_init__(self) -> None:
        if not 0 < self.bounce_ms < self.pulse_ms < self.flash_ms:
            raise ValueError(
                f"hook thresholds must rise: 0 < bounce_ms ({self.bounce_ms}) < pulse_ms ({self.pulse_ms})"
                f" < flash_ms ({self.flash_ms})"
            )
        if self.offhook_debounce_ms <= 0 or self.pulse_train_gap_ms <= 0:
            raise ValueError("offhook_debounce_ms and pulse_train_gap_ms must be positive")


class HookClassifier:
    """Pure: raw contact edges and times in, hook events out."""

    def __init__(self, timing: HookTiming = HookTiming(), off_hook: bool = False) -> None:
        self.timing = timing
        self.off_hook = off_hook  # the confirmed state that events have announced
        self._raw_on_hook = not off_hook
        self._edge_at: float | None = None  # start of the current unconfirmed raw interval
        self._pulses: list[int] = []
        self._last_pulse_end: float | None = None

    def edge(self, at: float, on_hook: bool) -> list[Event]:
        events = self.poll(at)
        if on_hook == self._raw_on_hook:
            return events
        self._raw_on_hook = on_hook
        if self.off_hook and not on_hook and self._edge_at is not None:
            events += self._end_on_hook_interval(at)
            self._edge_at = None
        elif self.off_hook == (not on_hook):
            self._edge_at = None  # bounced back to the confirmed state before it could count
        else:
            self._edge_at = at
        return events

    def _end_on_hook_interval(self, at: float) -> list[Event]:
        assert self._edge_at is not None
        duration_ms = (at - self._edge_at) * 1000.0
        t = self.timing
        if duration_ms < t.bounce_ms:
            return []
        if duration_ms < t.pulse_ms:
            self._pulses.append(round(duration_ms))
            self._last_pulse_end = at
            return []
        return self._close_train(at) + [HookFlash(at, round(duration_ms))]

    def _close_train(self, at: float) -> list[Event]:
        if not self._pulses:
            return []
        event = HookPulseTrain(at, len(self._pulses), tuple(self._pulses))
        self._pulses = []
        self._last_pulse_end = None
        return [event]

    def next_deadline(self) -> float | None:
        deadlines = []
        if self._edge_at is not None:
            if self.off_hook:
                deadlines.append(self._edge_at + self.timing.flash_ms / 1000.0)
            else:
                deadlines.append(self._edge_at + self.timing.offhook_debounce_ms / 1000.0)
        if self._last_pulse_end is not None and not self._raw_on_hook:
            deadlines.append(self._last_pulse_end + self.timing.pulse_train_gap_ms / 1000.0)
        return min(deadlines) if deadlines else None

    def poll(self, at: float) -> list[Event]:
        events: list[Event] = []
        t = self.timing
        if self._last_pulse_end is not None and not self._raw_on_hook:
            if at >= self._last_pulse_end + t.pulse_train_gap_ms / 1000.0:
                events += self._close_train(at)
        if self._edge_at is None:
            return events
        if self.off_hook and at >= self._edge_at + t.flash_ms / 1000.0:
            since = self._edge_at
            events += self._close_train(at)
            self.off_hook = False
            self._edge_at = None
            events.append(OnHook(since + t.flash_ms / 1000.0, round(since * 1000)))
        elif not self.off_hook and at >= self._edge_at + t.offhook_debounce_ms / 1000.0:
            self.off_hook = True
            self._edge_at = None
            events.append(OffHook(at))
        return events


class HookSwitch(Protocol):
    """Reports OffHook, OnHook, HookFlash and HookPulseTrain events to the sink given at start."""

    def start(self, sink: EventSink) -> None: ...

    def close(self) -> None: ...


class ClassifiedHookSwitch:
    """Shared by every backend: raw edges from wherever they come go through one classifier."""

    def __init__(self, clock: Clock, timing: HookTiming) -> None:
        self._clock = clock
        self.classifier = HookClassifier(timing)
        self._driver: DeadlineDriver | None = None

    def start(self, sink: EventSink) -> None:
        self._driver = DeadlineDriver(self._clock, self.classifier, sink)

    def raw_edge(self, on_hook: bool) -> None:
        if self._driver is None:
            raise RuntimeError("hookswitch used before start()")
        self._driver.feed(lambda at: self.classifier.edge(at, on_hook))

    def close(self) -> None:
        if self._driver is not None:
            self._driver.close()


class SimHookSwitch(ClassifiedHookSwitch):
    """A hookswitch moved by the simulator: `lift()` and `hang_up()`, or raw edges to inject bounce."""

    def lift(self) -> None:
        self.raw_edge(on_hook=False)

    def hang_up(self) -> None:
        self.raw_edge(on_hook=True)
