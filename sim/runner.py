"""Runs a scenario: the real firmware on simulated devices and a virtual clock, printing every record.

Same scenario, same output: nothing reads the wall clock and ties are broken in a fixed order.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware import config as config_mod
from firmware import ids
from firmware.device import Devices, Platform, build, sim_devices
from firmware.handset.policy import Timing
from firmware.rules.facility import load_rules
from firmware.runtime import Runtime
from hal.audio import FRAME_SAMPLES, SimAudioPort
from hal.audio_file import AudioFileError, write_wav
from hal.clock import Clock, VirtualClock, WallClock
from hal.hookswitch import SimHookSwitch
from hal.keypad import SimKeypad
from sim import world as world_mod
from sim.central_link import CentralLink
from sim.expectations import matches
from sim.network import SimNetwork, dtmf, timeline
from sim.scenario import (
    Central,
    Flash,
    HangUp,
    Incoming,
    Keys,
    Lift,
    PowerCut,
    Press,
    Pulses,
    RawHook,
    Release,
    Say,
    Scenario,
    ScenarioError,
    Sync,
    ToneDialer,
)
from sim.store_watch import StoreWatch

Record = dict[str, Any]


@dataclass
class RunResult:
    records: list[Record] = field(default_factory=list)
    unmet: list[Record] = field(default_factory=list)
    forbidden_seen: list[Record] = field(default_factory=list)
    #: Counts, intervals, repeats and store checks that did not hold, one line each.
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unmet and not self.forbidden_seen and not self.failures


def check(scenario: Scenario, records: list[Record], failures: list[str] | None = None) -> RunResult:
    result = RunResult(records=records, failures=list(failures or []))
    remaining = iter(records)
    for pattern in scenario.expect:
        if not any(matches(r, pattern) for r in remaining):
            result.unmet.append(pattern)
            remaining = iter(())
    result.forbidden_seen = [r for r in records for p in scenario.forbid if matches(r, p)]
    for form in (*scenario.count, *scenario.interval, *scenario.every):
        failure = form.failure(records)
        if failure is not None:
            result.failures.append(failure)
    return result


class _Actor:
    """Turns scenario steps into actions on the simulated devices at their virtual times."""

    def __init__(
        self,
        clock: Clock,
        devices: Devices,
        network: SimNetwork | None = None,
        mic: world_mod.Mouthpiece | None = None,
        central: CentralLink | None = None,
        note: Callable[[Record], None] = lambda r: None,
    ) -> None:
        if not isinstance(devices.hook, SimHookSwitch) or not isinstance(devices.keypad, SimKeypad):
            raise ScenarioError("scenarios drive simulated devices only")
        self.clock = clock
        self.hook = devices.hook
        self.keypad = devices.keypad
        self.network = network
        self.mic = mic
        self.central = central
        self.note = note
        self._keys_free_at = float("-inf")  # when the last typed key is up and its gap over, as it really ran

    def at(self, t: float, action: Callable[[], None]) -> None:
        self.clock.call_at(t, action)

    def schedule(self, step: Any) -> None:
        match step:
            case Lift() | HangUp() | Flash() | Pulses() | RawHook():
                self._hook(step)
            case Keys() | Press() | Release():
                self._keys(step)
            case Say() | ToneDialer():
                self._mouthpiece(step)
            case _:
                self._world(step)

    def _hook(self, step: Lift | HangUp | Flash | Pulses | RawHook) -> None:
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
                    self.at(t + offset_ms / 1000, functools.partial(self.hook.raw_edge, on_hook=level == "on"))

    def _keys(self, step: Keys | Press | Release) -> None:
        """Key presses; every key is checked against the keypad's layout now, not when it is pressed."""
        t = step.at_s
        match step:
            case Keys(keys=keys, press_ms=p, gap_ms=g):
                for key in keys:
                    self.keypad.scanner.contact_of(key)
                for i, key in enumerate(keys):
                    self.at(t + i * (p + g) / 1000, functools.partial(self._type, key, p / 1000, g / 1000))
            case Press(key=key):
                self.keypad.scanner.contact_of(key)
                self.at(t, lambda: self.keypad.press(key))
            case Release(key=key):
                self.keypad.scanner.contact_of(key)
                self.at(t, lambda: self.keypad.release(key))

    def _type(self, key: str, press_s: float, gap_s: float) -> None:
        """One typed key: down now, up `press_s` after it really went down, the next not before `gap_s` after that.
        On a virtual clock that is the scenario's own timing. On a real-time clock that runs late (a starved
        machine) a press and its release due together would reach the keypad in one go, before any scan saw the
        key down, and a key typed next could land on one still held: either way a digit lost that a hand typed."""
        now = self.clock.now()
        if now < self._keys_free_at - 1e-6:
            self.at(self._keys_free_at, functools.partial(self._type, key, press_s, gap_s))
            return
        self.keypad.press(key)
        self.at(now + press_s, functools.partial(self.keypad.release, key))
        self._keys_free_at = now + press_s + gap_s

    def _mouthpiece(self, step: Say | ToneDialer) -> None:
        match step:
            case Say(file=name):
                if self.mic is None:
                    raise ValueError("the inmate can only speak in a scenario with audio = true")
                self.mic.say(step.at_s, name)
            case ToneDialer(keys=keys):
                if self.mic is None:
                    raise ValueError("a tone dialer needs a scenario with audio = true")
                self.mic.play(step.at_s, dtmf(keys))

    def _world(self, step: Any) -> None:
        """What happens around the device: a call coming in, the central server, a power cut."""
        t = step.at_s
        match step:
            case Incoming(caller=caller):
                network = self.network
                if network is None:
                    raise ValueError("an incoming call needs a handset with a phone line")
                self.at(t, lambda: network.incoming(caller))
            case PowerCut():
                pass  # the runner itself kills and restarts the firmware (_power_cut)
            case Central(reachable=reachable):
                central = self._central()
                self.at(t, lambda: self._set_reachable(central, reachable))
            case Sync():
                central = self._central()
                self.at(t, lambda: self.note(central.sync(round(self.clock.now() * 1000))))

    def _central(self) -> CentralLink:
        assert self.central is not None, "the runner makes a central server for scenarios that sync"
        return self.central

    def _set_reachable(self, central: CentralLink, reachable: bool) -> None:
        central.reachable = reachable
        self.note({"t_ms": round(self.clock.now() * 1000), "event": "central", "reachable": reachable})


def run(
    scenario: Scenario, data_dir: Path, emit: Callable[[Record], None] = lambda r: None, existing_store: bool = False
) -> RunResult:
    """Play the scenario on the device whose state is in `data_dir`, with ids reproducible for that state.

    With `existing_store` the device runs on the store already in `data_dir` (as a sync left it: roster,
    lists, balances, outbox) and the scenario's world is not written into it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    runs = data_dir / ".sim-runs"
    run_number = int(runs.read_text()) + 1 if runs.exists() else 1
    runs.write_text(f"{run_number}\n")
    with ids.reproducible(f"{scenario.name}#{run_number}"):
        return _run(scenario, data_dir, emit, existing_store)


def _run(scenario: Scenario, data_dir: Path, emit: Callable[[Record], None], existing_store: bool) -> RunResult:
    config, timing = _device_config(scenario, data_dir, existing_store)
    if config.device.role == "kiosk":
        from sim import kiosk_world

        return check(scenario, kiosk_world.run(scenario, config, emit))
    return _run_handset(scenario, config, timing, emit)


def _device_config(scenario: Scenario, data_dir: Path, existing_store: bool) -> tuple[config_mod.Config, Timing | None]:
    """The scenario's config, rules and world written into `data_dir` (or its store required there), and timing."""
    overrides: dict[str, Any] = {k: dict(v) for k, v in scenario.config.items()}
    overrides.setdefault("paths", {})["data_dir"] = str(data_dir)
    try:
        if scenario.rules:
            overrides["paths"]["rules"] = str(world_mod.write_rules(scenario.rules, data_dir))
        config = config_mod.load(None, overrides, source=f"scenario {scenario.name!r} [config]")
        if existing_store:
            world_mod.require_store(config)
        else:
            world_mod.seed(scenario.world, config)
        timing = world_mod.timing(scenario.timing)
    except config_mod.ConfigError as exc:
        raise ScenarioError(str(exc)) from None
    except world_mod.WorldError as exc:
        raise ScenarioError(f"scenario {scenario.name!r}: {exc}") from None
    return config, timing


def _run_handset(
    scenario: Scenario, config: config_mod.Config, timing: Timing | None, emit: Callable[[Record], None]
) -> RunResult:
    clock = VirtualClock()
    devices = sim_devices(config, clock)
    try:
        network = SimNetwork(clock, list(scenario.parties), continuous_audio=scenario.audio)
    except AudioFileError as exc:
        raise ScenarioError(f"scenario {scenario.name!r}: {exc}") from None
    devices.line = network
    assert isinstance(devices.audio, SimAudioPort)  # sim_devices made it
    mic = world_mod.Mouthpiece(clock, devices.audio) if scenario.audio else None
    records: list[Record] = []
    watch = StoreWatch(config, list(scenario.store))

    def collect(record: Record) -> None:
        records.append(record)
        emit(record)
        watch.after_record(record["t_ms"])

    try:
        central = _central(scenario, config)
        actor = _Actor(clock, devices, network, mic, central, collect)
        for step in scenario.steps:
            try:
                actor.schedule(step)
            except ValueError as exc:
                raise ScenarioError(f"scenario {scenario.name!r} step at {step.at_s}s: {exc}") from None

        def boot() -> Runtime:
            return boot_device(config, clock, devices, scenario, timing, collect)

        runtime = boot()
        if mic is not None:
            mic.start(scenario.end_time())
        for cut in (s for s in scenario.steps if isinstance(s, PowerCut)):
            runtime.run_virtual(clock, cut.at_s)
            runtime = _power_cut(cut, clock, devices, network, collect, boot)
        runtime.run_virtual(clock, scenario.end_time())
        audio = devices.audio
        if scenario.audio and isinstance(audio, SimAudioPort):
            wav = Path(config.paths.data_dir) / config.audio.record_wav
            write_call_wav(wav, audio, network, scenario.end_time())
            runtime.note({"t_ms": round(clock.now() * 1000), "event": "audio_written", "path": str(wav)})
    finally:
        devices.close()
    watch.at_end()
    return check(scenario, records, watch.failures)


def boot_device(
    config: config_mod.Config,
    clock: VirtualClock,
    devices: Devices,
    scenario: Scenario,
    timing: Timing | None,
    observer: Callable[[Record], None],
) -> Runtime:
    """The device assembled as every simulator assembles it (no sync service: scenarios sync by step), started."""
    assembly = build(config, clock, devices, Platform(wall=WallClock(scenario.start), sync=False))
    runtime = assembly.runtime
    runtime.observe(observer)
    assembly.start()
    world_mod.apply_timing(runtime, timing)
    return runtime


def _central(scenario: Scenario, config: config_mod.Config) -> CentralLink | None:
    """The reference central server, when the scenario syncs or takes the server away."""
    if not any(isinstance(s, Sync | Central) for s in scenario.steps):
        return None
    rules = load_rules(config.paths.rules or None).model_dump(mode="json")
    return CentralLink(config, world_mod.central_values(scenario.world), rules)


def _power_cut(
    cut: PowerCut,
    clock: VirtualClock,
    devices: Devices,
    network: SimNetwork,
    note: Callable[[Record], None],
    boot: Callable[[], Runtime],
) -> Runtime:
    """Kill the firmware where it stands and start it again `off_s` later on its store.

    The dead runtime is never run again: what it had committed is in the store, what it had queued is lost.
    The line drops with the power; the handset, keypad and audio stay where they are and are wired to the new
    runtime, which (like any start) first closes the calls the cut left open."""
    note({"t_ms": round(cut.at_s * 1000), "event": "power_cut"})
    network.hang_up()
    for device in (devices.keypad, devices.hook):
        device.close()
    clock.advance_to(cut.at_s + cut.off_s)
    runtime = boot()
    note({"t_ms": round(clock.now() * 1000), "event": "power_restored"})
    return runtime


def write_call_wav(path: Path, audio: SimAudioPort, network: SimNetwork, end: float) -> None:
    """Both legs as one stereo WAV: left what the inmate heard, right what the called party heard."""
    import numpy as np

    ear = timeline(audio.played, 0.0, end)
    far = timeline(network.sent, 0.0, end)
    n = max(len(ear), len(far), FRAME_SAMPLES)
    stereo = np.zeros((n, 2), dtype=np.int16)
    stereo[: len(ear), 0] = ear
    stereo[: len(far), 1] = far
    write_wav(path, stereo)
