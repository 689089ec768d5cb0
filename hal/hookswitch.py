"""The hookswitch: debounced, with every on-hook interval classified by duration.

An on-hook interval shorter than `bounce_ms` is contact bounce; up to `pulse_ms` it is a dial pulse (a train of
them is somebody pulse-dialing around the keypad, which is reported); up to `flash_ms` it is a hookflash;
anything longer is a hang-up. Defaults follow DAHDI. Off-hook must be stable for `offhook_debounce_ms` before it
counts, so that a handset rattled in its cradle does not start a call; an on-hook interval ends only when the
contact has stayed closed for `bounce_ms`, so the same rattle does not split a hang-up into false flashes.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hal.clock import Clock
from hal.driver import DeadlineDriver, EventSink
from hal.events import Event, HookFlash, HookPulseTrain, OffHook, OnHook


class HookTiming(BaseModel):
    """The classifier's thresholds; also the device config's `[hook]` section (firmware/config.py extends it with
    the pin), so the validated config is the very object the hookswitch runs on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bounce_ms: float = Field(15.0, gt=0)
    pulse_ms: float = Field(200.0, gt=0)
    flash_ms: float = Field(1250.0, gt=0)
    offhook_debounce_ms: float = Field(30.0, gt=0)
    #: Off-hook time after the last pulse that closes a pulse train (inter-digit pause of rotary dialing).
    pulse_train_gap_ms: float = Field(400.0, gt=0)

    @model_validator(mode="after")
    def _thresholds_rise(self) -> HookTiming:
        if not self.bounce_ms < self.pulse_ms < self.flash_ms:
            raise ValueError(
                f"thresholds must rise: bounce_ms ({self.bounce_ms:g}) < pulse_ms ({self.pulse_ms:g})"
                f" < flash_ms ({self.flash_ms:g})"
            )
        return self


#: Deadlines are compared to the microsecond: 0.1 + 0.05 is 0.15000000000000002 in floats, and an edge exactly
#: at a threshold must land on the side the documentation promises.
_EPSILON_S = 1e-6 / 2


def _due(at: float, deadline: float) -> bool:
    return at >= deadline - _EPSILON_S


class HookClassifier:
    """Pure: raw contact edges and times in, hook events out.

    Both directions are debounced. Off the hook, a lift counts once the contact has stayed closed for
    `offhook_debounce_ms`. On the hook, an interval ends only once the contact has stayed closed for `bounce_ms`:
    a shorter closure is a rattle inside the interval, which goes on. Each event is stamped with the instant it
    became certain (a debounce or threshold deadline), not with the moment a late poll noticed it.
    """

    def __init__(self, timing: HookTiming | None = None, off_hook: bool = False) -> None:
        self.timing = timing or HookTiming()
        self.off_hook = off_hook  # the confirmed state that events have announced
        self._raw_on_hook = not off_hook
        self._lift_at: float | None = None  # on the hook: contact closed since, not yet confirmed
        self._down_at: float | None = None  # off the hook: start of the current on-hook interval
        self._up_at: float | None = None  # off the hook: contact closed again since (interval may be over)
        self._pulses: list[int] = []
        self._last_pulse_end: float | None = None

    def edge(self, at: float, on_hook: bool) -> list[Event]:
        events = self.poll(at)
        if on_hook == self._raw_on_hook:
            return events
        self._raw_on_hook = on_hook
        if not self.off_hook:
            self._lift_at = None if on_hook else at
        elif on_hook:
            if self._down_at is None:
                self._down_at = at
            self._up_at = None  # a closure shorter than bounce_ms: the on-hook interval goes on
        elif self._down_at is not None:
            self._up_at = at
        return events + self.poll(at)

    def next_deadline(self) -> float | None:
        t = self.timing
        if not self.off_hook:
            return None if self._lift_at is None else self._lift_at + t.offhook_debounce_ms / 1000.0
        if self._down_at is not None:
            if self._up_at is not None:
                return self._up_at + t.bounce_ms / 1000.0
            return self._down_at + t.flash_ms / 1000.0
        if self._last_pulse_end is not None:
            return self._last_pulse_end + t.pulse_train_gap_ms / 1000.0
        return None

    def poll(self, at: float) -> list[Event]:
        t = self.timing
        if not self.off_hook:
            if self._lift_at is not None and _due(at, self._lift_at + t.offhook_debounce_ms / 1000.0):
                self.off_hook = True
                confirmed = self._lift_at + t.offhook_debounce_ms / 1000.0
                self._lift_at = None
                return [OffHook(confirmed)]
            return []
        events: list[Event] = []
        if self._down_at is not None:
            if self._up_at is not None and _due(at, self._up_at + t.bounce_ms / 1000.0):
                events += self._end_interval(self._down_at, self._up_at, self._up_at + t.bounce_ms / 1000.0)
            elif self._up_at is None and _due(at, self._down_at + t.flash_ms / 1000.0):
                since = self._down_at
                hung_up = since + t.flash_ms / 1000.0
                events += self._close_train(hung_up)
                self.off_hook = False
                self._down_at = None
                events.append(OnHook(hung_up, round(since * 1000)))
                return events
        if self._down_at is None and self._last_pulse_end is not None:
            closes = self._last_pulse_end + t.pulse_train_gap_ms / 1000.0
            if _due(at, closes):
                events += self._close_train(closes)
        return events

    def _end_interval(self, down: float, up: float, confirmed: float) -> list[Event]:
        self._down_at = self._up_at = None
        # Whole microseconds: float noise must not move an interval across a threshold.
        duration_ms = round((up - down) * 1000.0, 3)
        t = self.timing
        if duration_ms < t.bounce_ms:
            return []
        if duration_ms < t.pulse_ms:
            self._pulses.append(round(duration_ms))
            self._last_pulse_end = up
            return []
        return self._close_train(confirmed) + [HookFlash(confirmed, round(duration_ms))]

    def _close_train(self, at: float) -> list[Event]:
        if not self._pulses:
            return []
        event = HookPulseTrain(at, len(self._pulses), tuple(self._pulses))
        self._pulses = []
        self._last_pulse_end = None
        return [event]


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
