"""Input for a simulated device started by `ringfence run --sim --scenario FILE`: the same runtime and machines
as in the field, on the wall clock, with a scenario's steps (lift, keys, hang up) acted out on the simulated
keypad and hookswitch and its called parties answering on the simulated line.

Only the steps and parties of the scenario are used: the device keeps its own config, store and rules (it
syncs them like any device), and it runs on after the last step until it is stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from firmware.device import Devices
from hal.clock import Clock, TimerHandle
from sim.network import SimNetwork
from sim.runner import _Actor
from sim.scenario import Scenario, ScenarioError, load


class ClockFrom:
    """Another clock, read from `start`: a scenario's times are seconds since the device started."""

    def __init__(self, clock: Clock, start: float) -> None:
        self.clock = clock
        self.start = start

    def now(self) -> float:
        return self.clock.now() - self.start

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        return self.clock.call_at(self.start + when, callback)


def prepare(path: Path, devices: Devices, clock: Clock) -> Callable[[], None]:
    """Put the scenario's called parties on the line now (before the device is assembled); the returned
    function schedules its steps from the moment it is called (once the device has started)."""
    scenario: Scenario = load(path)
    if scenario.audio:
        raise ScenarioError(f"scenario {scenario.name!r}: audio = true needs the virtual clock (`ringfence sim run`)")
    network = SimNetwork(clock, list(scenario.parties)) if scenario.parties else None
    if network is not None:
        devices.line = network

    def play() -> None:
        actor = _Actor(ClockFrom(clock, clock.now()), devices, network)
        for step in scenario.steps:
            try:
                actor.schedule(step)
            except ValueError as exc:
                raise ScenarioError(f"scenario {scenario.name!r} step at {step.at_s}s: {exc}") from None

    return play
