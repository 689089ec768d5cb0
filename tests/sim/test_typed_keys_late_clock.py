"""Keys typed in a simulation reach the keypad as a hand types them, also when a real-time clock serves its timers
late (a starved machine): every digit typed is read once, and on the virtual clock the timing is the scenario's.
"""

from __future__ import annotations

import pytest

from firmware import config as config_mod
from firmware.device import sim_devices
from hal.clock import VirtualClock
from hal.events import Event, KeyDown, KeyUp
from sim.runner import _Actor
from sim.scenario import Keys


class LateClock(VirtualClock):
    """A clock that wakes late, as a real-time clock's timer thread does on a starved machine: every timer due by
    the time it wakes runs then, in the order they were due, and reads the time it woke."""

    def wake(self, at: float) -> None:
        self._now = at
        while (timer := self._timers.pop_due(at)) is not None:
            timer.callback()


def _typed(clock: VirtualClock, keys: str, wakes: list[float]) -> list[Event]:
    devices = sim_devices(config_mod.load(None, {}), clock)
    heard: list[Event] = []
    devices.keypad.start(heard.append)
    _Actor(clock, devices).schedule(Keys(at_s=0.0, action="keys", keys=keys, press_ms=120, gap_ms=120))
    for at in wakes:
        if isinstance(clock, LateClock):
            clock.wake(at)
        else:
            clock.advance_to(at)
    devices.close()
    return heard


@pytest.mark.parametrize("late_s", [0.15, 0.3, 1.0])
def test_a_late_clock_loses_no_typed_key(late_s: float) -> None:
    """The clock first wakes `late_s` late, with the first key's press and release (and the next key's) all due."""
    wakes = [late_s + i * 0.01 for i in range(300)]
    heard = _typed(LateClock(), "5575", wakes)
    assert [e.key for e in heard if isinstance(e, KeyDown)] == list("5575")
    assert [e.key for e in heard if isinstance(e, KeyUp)] == list("5575")
    assert all(e.held_ms >= 100 for e in heard if isinstance(e, KeyUp)), heard


def test_on_the_virtual_clock_keys_go_down_and_up_at_the_scenario_times() -> None:
    heard = _typed(VirtualClock(), "5575", [3.0])
    debounce = 0.02
    downs = [round(e.at, 6) for e in heard if isinstance(e, KeyDown)]
    ups = [round(e.at, 6) for e in heard if isinstance(e, KeyUp)]
    assert downs == [round(i * 0.24 + debounce, 6) for i in range(4)]
    assert ups == [round(i * 0.24 + 0.12 + debounce, 6) for i in range(4)]
