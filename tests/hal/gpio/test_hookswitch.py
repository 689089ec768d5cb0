"""The GPIO hookswitch on gpiozero mock pins: the contact drives the pin, the classifier sees the edges."""

from __future__ import annotations

import random

import pytest
from gpiozero.pins.mock import MockFactory

from hal.clock import VirtualClock
from hal.events import Event, HookFlash, OffHook, OnHook
from hal.gpio.hookswitch import GpioHookSwitch
from hal.hookswitch import HookTiming

PIN = 26
DEFAULT = HookTiming()


class HookRig:
    def __init__(self, timing: HookTiming = DEFAULT, off_hook_level: str = "low") -> None:
        self.factory = MockFactory()
        self.pin = self.factory.pin(PIN)
        self.clock = VirtualClock()
        self.level = off_hook_level
        self.hook = GpioHookSwitch(self.clock, self.factory, PIN, timing, off_hook_level)
        self.events: list[Event] = []

    def start(self) -> None:
        self.hook.start(self.events.append)

    def contact(self, at_ms: float, off_hook: bool) -> None:
        """Move the physical contact at a virtual time: off hook pulls the pin to the configured level."""
        low = off_hook == (self.level == "low")
        self.clock.call_at(at_ms / 1000, self.pin.drive_low if low else self.pin.drive_high)

    def run(self, until_ms: float) -> list[Event]:
        self.clock.advance_to(until_ms / 1000)
        return self.events


def lifted_then(rig: HookRig, on_hook_ms: float, start_ms: float = 1000) -> list[str]:
    rig.start()
    rig.contact(100, off_hook=True)
    rig.contact(start_ms, off_hook=False)
    rig.contact(start_ms + on_hook_ms, off_hook=True)
    return [e.kind for e in rig.run(start_ms + on_hook_ms + 3000)]


@pytest.mark.parametrize(
    ("timing", "on_hook_ms", "expected"),
    [
        (HookTiming(), 14, ["off_hook"]),
        (HookTiming(), 15, ["off_hook", "hook_pulses"]),
        (HookTiming(), 199, ["off_hook", "hook_pulses"]),
        (HookTiming(), 200, ["off_hook", "hook_flash"]),
        (HookTiming(), 1249, ["off_hook", "hook_flash"]),
        (HookTiming(), 1250, ["off_hook", "on_hook", "off_hook"]),
        (HookTiming(bounce_ms=25, pulse_ms=150, flash_ms=700), 24, ["off_hook"]),
        (HookTiming(bounce_ms=25, pulse_ms=150, flash_ms=700), 25, ["off_hook", "hook_pulses"]),
        (HookTiming(bounce_ms=25, pulse_ms=150, flash_ms=700), 149, ["off_hook", "hook_pulses"]),
        (HookTiming(bounce_ms=25, pulse_ms=150, flash_ms=700), 150, ["off_hook", "hook_flash"]),
        (HookTiming(bounce_ms=25, pulse_ms=150, flash_ms=700), 699, ["off_hook", "hook_flash"]),
        (HookTiming(bounce_ms=25, pulse_ms=150, flash_ms=700), 700, ["off_hook", "on_hook", "off_hook"]),
    ],
)
def test_on_hook_interval_on_the_pin_is_classified_by_its_length(
    timing: HookTiming, on_hook_ms: float, expected: list[str]
) -> None:
    assert lifted_then(HookRig(timing), on_hook_ms) == expected


@pytest.mark.parametrize("level", ["low", "high"])
def test_either_wiring_reports_lift_flash_and_hang_up(level: str) -> None:
    rig = HookRig(off_hook_level=level)
    rig.start()
    rig.contact(100, off_hook=True)
    rig.contact(1000, off_hook=False)
    rig.contact(1600, off_hook=True)
    rig.contact(3000, off_hook=False)
    events = rig.run(6000)
    assert [e.kind for e in events] == ["off_hook", "hook_flash", "on_hook"]
    assert isinstance(events[0], OffHook) and events[0].at == pytest.approx(0.130)
    assert isinstance(events[1], HookFlash) and events[1].duration_ms == 600
    assert isinstance(events[2], OnHook) and events[2].since_ms == 3000 and events[2].at == pytest.approx(4.25)


@pytest.mark.parametrize(("held_ms", "lifted"), [(29, False), (30, True)])
def test_a_lift_must_last_the_off_hook_debounce(held_ms: float, lifted: bool) -> None:
    rig = HookRig()
    rig.start()
    rig.contact(100, off_hook=True)
    rig.contact(100 + held_ms, off_hook=False)
    # Put back at once: a lift that counted is followed by a hang-up 1250 ms later.
    assert [e.kind for e in rig.run(3000)] == (["off_hook", "on_hook"] if lifted else [])


def test_starting_with_the_handset_already_lifted_reports_off_hook() -> None:
    rig = HookRig()
    rig.pin.drive_low()
    rig.start()
    assert [e.kind for e in rig.run(1000)] == ["off_hook"]


def test_pulse_dialing_on_the_pin_is_one_train_per_digit() -> None:
    rig = HookRig()
    rig.start()
    rig.contact(100, off_hook=True)
    t = 1000.0
    for digit in (3, 5):
        for _ in range(digit):
            rig.contact(t, off_hook=False)
            rig.contact(t + 60, off_hook=True)
            t += 100
        t += 700  # inter-digit pause, longer than the 400 ms train gap
    events = rig.run(t + 2000)
    assert [(e.kind, getattr(e, "pulses", None)) for e in events] == [
        ("off_hook", None),
        ("hook_pulses", 3),
        ("hook_pulses", 5),
    ]


def test_random_bounce_on_the_pin_still_gives_one_event_per_action() -> None:
    rng = random.Random(7)
    rig = HookRig()
    rig.start()

    def bouncy(at_ms: float, off_hook: bool) -> None:
        state = off_hook
        rig.contact(at_ms, state)
        t = at_ms
        for _ in range(rng.randint(1, 6)):
            t += rng.uniform(0.3, 1.5)
            state = not state
            rig.contact(t, state)
        if state != off_hook:
            rig.contact(t + rng.uniform(0.3, 1.5), off_hook)

    bouncy(100, True)
    bouncy(1000, False)
    bouncy(1500, True)  # a 500 ms flash
    bouncy(3000, False)  # hang up
    assert [e.kind for e in rig.run(6000)] == ["off_hook", "hook_flash", "on_hook"]
