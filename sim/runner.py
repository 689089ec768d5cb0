"""Runs a scenario: the real firmware on simulated devices and a virtual clock, printing every record.

Same scenario, same output: nothing reads the wall clock and ties are broken in a fixed order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware import config as config_mod
from firmware.device import Devices, assemble, sim_devices
from hal.audio import SimAudioPort
from hal.clock import VirtualClock
from hal.hookswitch import SimHookSwitch
from hal.keypad import SimKeypad
from sim.scenario import (
    Flash,
    HangUp,
    Keys,
    Lift,
    Press,
    Pulses,
    RawHook,
    Release,
    Scenario,
    ScenarioError,
)

Record = dict[str, Any]


@dataclass
class RunResult:
    records: list[Record] = field(default_factory=list)
    unmet: list[Record] = field(default_factory=list)
    forbidden_seen: list[Record] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unmet and not self.forbidden_seen


def matches(record: Record, pattern: Record) -> bool:
    return all(record.get(k) == v for k, v in pattern.items())


def check(scenario: Scenario, records: list[Record]) -> RunResult:
    result = RunResult(records=records)
    remaining = iter(records)
    for pattern in scenario.expect:
        if not any(matches(r, pattern) for r in remaining):
            result.unmet.append(pattern)
            remaining = iter(())
    result.forbidden_seen = [r for r in records for p in scenario.forbid if matches(r, p)]
    return result


class _Actor:
    """Turns scenario steps into actions on the simulated devices at their virtual times."""

    def __init__(self, clock: VirtualClock, devices: Devices) -> None:
        if not isinstance(devices.hook, SimHookSwitch) or not isinstance(devices.keypad, SimKeypad):
            raise ScenarioError("scenarios drive simulated devices only")
        self.clock = clock
        self.hook = devices.hook
        self.keypad = devices.keypad

    def at(self, t: float, action: Callable[[], None]) -> None:
        self.clock.call_at(t, action)

    def schedule(self, step: Any) -> None:
        t = step.at_s
        match step:
            case Lift():
                self.at(t, self.hook.lift)
            case HangUp():
                self.at(t, self.hook.hang_up)
            case Flash(ms=ms):
                self.at(t, self.hook.hang_up)
                self.at(t + ms / 1000, self.hook.lift)
            case Pulses(count=n, break_ms=b, make_ms=m):
                for i in range(n):
                    start = t + i * (b + m) / 1000
                    self.at(start, self.hook.hang_up)
                    self.at(start + b / 1000, self.hook.lift)
            case RawHook(edges=edges):
                for offset_ms, level in edges:
                    self.at(t + offset_ms / 1000, lambda on=(level == "on"): self.hook.raw_edge(on_hook=on))
            case Keys(keys=keys, press_ms=p, gap_ms=g):
                for key in keys:
                    self.keypad.scanner.contact_of(key)
                for i, key in enumerate(keys):
                    start = t + i * (p + g) / 1000
                    self.at(start, lambda k=key: self.keypad.press(k))
                    self.at(start + p / 1000, lambda k=key: self.keypad.release(k))
            case Press(key=key):
                self.keypad.scanner.contact_of(key)
                self.at(t, lambda: self.keypad.press(key))
            case Release(key=key):
                self.keypad.scanner.contact_of(key)
                self.at(t, lambda: self.keypad.release(key))


def run(scenario: Scenario, data_dir: Path, emit: Callable[[Record], None] = lambda r: None) -> RunResult:
    overrides: dict[str, Any] = {k: dict(v) for k, v in scenario.config.items()}
    overrides.setdefault("paths", {})["data_dir"] = str(data_dir)
    try:
        config = config_mod.load(None, overrides, source=f"scenario {scenario.name!r} [config]")
    except config_mod.ConfigError as exc:
        raise ScenarioError(str(exc)) from None
    clock = VirtualClock()
    devices = sim_devices(config, clock)
    try:
        actor = _Actor(clock, devices)
        for step in scenario.steps:
            try:
                actor.schedule(step)
            except ValueError as exc:
                raise ScenarioError(f"scenario {scenario.name!r} step at {step.at_s}s: {exc}") from None
        runtime = assemble(config, clock, devices)
        records: list[Record] = []

        def collect(record: Record) -> None:
            records.append(record)
            emit(record)

        runtime.observe(collect)
        runtime.run_virtual(clock, scenario.end_time())
        audio = devices.audio
        if isinstance(audio, SimAudioPort) and audio.played:
            wav = Path(config.paths.data_dir) / config.audio.record_wav
            audio.write_wav(wav)
            runtime.note({"t_ms": round(clock.now() * 1000), "event": "audio_written", "path": str(wav)})
    finally:
        devices.close()
    return check(scenario, records)
