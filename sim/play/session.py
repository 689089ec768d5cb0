"""A handset session played by hand: the scenario runner's world, driven by key presses instead of a script.

The device is assembled exactly as `ringfence sim run` assembles it (sim.runner.boot_device on sim_devices,
the world seeded by sim.world, ids seeded as the runner seeds them) and every hand action becomes a scenario
step, scheduled by the runner's own step scheduler. So a session written out as a scenario (sim/play/save.py)
replays under `ringfence sim run` with the same events.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from firmware import config as config_mod
from firmware import ids
from firmware.config import Config
from firmware.device import sim_devices
from firmware.rules.service import CallRules
from firmware.runtime import Runtime
from firmware.store import Store
from hal.audio import SimAudioPort
from hal.audio_file import AudioFileError
from hal.clock import VirtualClock
from sim import world as world_mod
from sim.play.far_end import ACT_GRID_S, LiveNetwork
from sim.runner import _Actor, boot_device, write_call_wav
from sim.scenario import Flash, HangUp, Keys, Lift, Scenario, ScenarioError

Record = dict[str, Any]
KEYS = "0123456789*#"
#: A hookflash as a hand makes it: the contact open for 600 ms (between a pulse and a hang-up).
FLASH_MS = 600.0
#: How long a typed key is held, and the pause before the next may be pressed (the runner's defaults).
PRESS_MS, GAP_MS = 120.0, 120.0


def next_slot(now: float) -> float:
    """Hand actions land 5 ms past a 10 ms step, after now: a time a scenario states exactly and that never
    coincides with the 20 ms audio frames, so the replay orders them the same way."""
    return round((math.floor(now / ACT_GRID_S) + 1.5) * ACT_GRID_S, 3)


class KeyTimes:
    """When each typed key goes down: keys typed faster than a hand could are queued one after another."""

    def __init__(self) -> None:
        self._free_at = 0.0

    def step(self, key: str, now: float) -> Keys:
        at = max(next_slot(now), self._free_at)
        self._free_at = round(at + (PRESS_MS + GAP_MS) / 1000, 3)
        return Keys(at_s=at, action="keys", keys=key, press_ms=PRESS_MS, gap_ms=GAP_MS)


class Ignored(ValueError):
    """A hand action that means nothing now; str() says why. Shown to the person, never raised to them."""


def run_number(data_dir: Path) -> int:
    """Count this run on the device as `sim run` counts its runs, so ids follow the same seed."""
    data_dir.mkdir(parents=True, exist_ok=True)
    runs = data_dir / ".sim-runs"
    number = int(runs.read_text()) + 1 if runs.exists() else 1
    runs.write_text(f"{number}\n")
    return number


def load_config(scenario: Scenario, data_dir: Path) -> Config:
    """The device configuration a scenario's run would use, with the world written into the data directory."""
    overrides: dict[str, Any] = {k: dict(v) for k, v in scenario.config.items()}
    overrides.setdefault("paths", {})["data_dir"] = str(data_dir)
    try:
        if scenario.rules:
            overrides["paths"]["rules"] = str(world_mod.write_rules(scenario.rules, data_dir))
        return config_mod.load(None, overrides, source=f"scenario {scenario.name!r} [config]")
    except config_mod.ConfigError as exc:
        raise ScenarioError(str(exc)) from None
    except world_mod.WorldError as exc:
        raise ScenarioError(f"scenario {scenario.name!r}: {exc}") from None


class HandsetSession:
    """One simulated handset and its phone network on a virtual clock that the caller moves forward."""

    def __init__(self, scenario: Scenario, data_dir: Path, emit: Callable[[Record], None] = lambda r: None) -> None:
        self.scenario = scenario.model_copy(update={"audio": True, "steps": []})
        self.data_dir = data_dir
        self._stack = contextlib.ExitStack()
        self.run_number = run_number(data_dir)
        self._stack.enter_context(ids.reproducible(f"{scenario.name}#{self.run_number}"))
        try:
            self._build(emit)
        except BaseException:
            self._stack.close()
            raise

    def _build(self, emit: Callable[[Record], None]) -> None:
        scenario = self.scenario
        self.config = load_config(scenario, self.data_dir)
        try:
            world_mod.seed(scenario.world, self.config)
            timing = world_mod.timing(scenario.timing)
        except world_mod.WorldError as exc:
            raise ScenarioError(f"scenario {scenario.name!r}: {exc}") from None
        self.clock = VirtualClock()
        self.devices = sim_devices(self.config, self.clock)
        self._stack.callback(self.devices.close)
        try:
            self.network = LiveNetwork(self.clock, list(scenario.parties))
        except AudioFileError as exc:
            raise ScenarioError(f"scenario {scenario.name!r}: {exc}") from None
        self.devices.line = self.network
        assert isinstance(self.devices.audio, SimAudioPort)
        self.audio: SimAudioPort = self.devices.audio
        self.mic = world_mod.Mouthpiece(self.clock, self.audio)
        self.records: list[Record] = []
        self.steps: list[Any] = []
        self._emit = emit
        self._actor = _Actor(self.clock, self.devices, self.network, self.mic, None, self._collect)
        self.runtime: Runtime = boot_device(self.config, self.clock, self.devices, scenario, timing, self._collect)
        self.mic.start(math.inf)
        self.off_hook = False
        self._key_times = KeyTimes()
        store = Store(self.config.paths.store_path)
        self._stack.callback(store.close)
        self._rules = CallRules.from_config(self.config, store)

    def _collect(self, record: Record) -> None:
        self.records.append(record)
        self._emit(record)

    # ---- time -----------------------------------------------------------------------------------------

    @property
    def now(self) -> float:
        return self.clock.now()

    def advance(self, seconds: float) -> None:
        """Let `seconds` of virtual time pass: every timer, frame and event due meanwhile happens."""
        self.runtime.run_virtual(self.clock, self.clock.now() + max(seconds, 0.0))

    def _step(self, step: Any) -> None:
        self._actor.schedule(step)
        self.steps.append(step)

    # ---- the inmate's hands ------------------------------------------------------------------------------

    def toggle_hook(self) -> str:
        at = next_slot(self.clock.now())
        if self.off_hook:
            self._step(HangUp(at_s=at, action="hang_up"))
        else:
            self._step(Lift(at_s=at, action="lift"))
        self.off_hook = not self.off_hook
        return "lift" if self.off_hook else "hang up"

    def flash(self) -> None:
        if not self.off_hook:
            raise Ignored("hookflash: the handset is on the hook")
        self._step(Flash(at_s=next_slot(self.clock.now()), action="flash", ms=FLASH_MS))

    def key(self, key: str) -> None:
        """Press and release one key; keys typed faster than a hand could are queued, one after another."""
        if key not in KEYS:
            raise Ignored(f"{key!r} is not a key on the handset")
        self._step(self._key_times.step(key, self.clock.now()))

    # ---- what the panels show ------------------------------------------------------------------------

    def balance_cents(self, inmate_id: str) -> int | None:
        """The inmate's debit balance as the device reckons it now (server balance less unsynced charges)."""
        return self._rules.balance_cents("debit", inmate_id)

    def write_wav(self, path: Path) -> Path:
        """Both legs so far, as `sim run` writes them: left the inmate's ear, right the called party's."""
        write_call_wav(path, self.audio, self.network, self.clock.now())
        return path

    def close(self) -> None:
        self._stack.close()
