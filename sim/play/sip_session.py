"""A handset played by hand whose line is the real SIP line of a device's configuration (`sim play --line sip`).

The keypad, hook and audio stay simulated and the device is assembled as every simulator assembles it
(sim.runner.boot_device); only the line is real. A real peer cannot wait for a virtual clock, so the device runs
in real time on its own thread (Runtime.run_realtime), as it does on a Pi.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from firmware import config as config_mod
from firmware.config import Config
from firmware.device import DeviceError, sim_devices
from firmware.rules.service import CallRules
from firmware.store import Store
from hal.audio import AudioFrame, SimAudioPort
from hal.clock import StartedClock
from hal.events import Event
from hal.sip_line import SipLine
from sim import world as world_mod
from sim.play.session import HandsetSession, KeyTimes, Record
from sim.runner import _Actor, boot_device
from sim.scenario import Scenario, ScenarioError

#: The far end's level is shown as silence once no frame has come for this long.
LEVEL_STALE_S = 0.5


class MeteredLine:
    """The SIP line, with the level of the far end's audio noted on its way to the device."""

    def __init__(self, line: SipLine) -> None:
        self.sip = line
        self.level_dbfs = -math.inf
        self.level_at = -math.inf

    def start(self, sink: Callable[[Event], None]) -> None:
        def metered(event: Event) -> None:
            if isinstance(event, AudioFrame) and event.source == "line":
                rms = float(np.sqrt(np.mean(np.square(event.samples.astype(np.float64)))))
                self.level_dbfs = 20 * math.log10(max(rms, 1.0) / 32768)
                self.level_at = event.at
            sink(event)

        self.sip.start(metered)

    def dial(self, number: str) -> None:
        self.sip.dial(number)

    def send(self, samples: np.ndarray) -> None:
        self.sip.send(samples)

    def hang_up(self) -> None:
        self.sip.hang_up()

    def close(self) -> None:
        self.sip.close()


def load_device_config(config_path: Path, scenario: Scenario, data_dir: Path) -> Config:
    """The device's own configuration (its [line] above all), with the world's rules and the play data dir."""
    overrides: dict[str, Any] = {k: dict(v) for k, v in scenario.config.items() if k != "line"}
    overrides.setdefault("paths", {})["data_dir"] = str(data_dir)
    try:
        if scenario.rules:
            overrides["paths"]["rules"] = str(world_mod.write_rules(scenario.rules, data_dir))
        config = config_mod.load(config_path, overrides)
    except config_mod.ConfigError as exc:
        raise ScenarioError(str(exc)) from None
    except world_mod.WorldError as exc:
        raise ScenarioError(f"scenario {scenario.name!r}: {exc}") from None
    if config.line.backend != "sip":
        raise ScenarioError(
            f"{config_path}: line.backend is {config.line.backend!r}; --line sip needs "
            'backend = "sip" (see examples/sip-line.toml)'
        )
    if config.device.role != "handset":
        raise ScenarioError(f"{config_path}: device.role is {config.device.role!r}; only a handset has a line")
    return config


class SipHandsetSession(HandsetSession):
    """The simulated handset on a real SIP line, running in real time until closed."""

    realtime_only = True

    def __init__(
        self, scenario: Scenario, data_dir: Path, config_path: Path, emit: Callable[[Record], None] = lambda r: None
    ) -> None:
        self.config_path = config_path
        super().__init__(scenario, data_dir, emit)

    def _build(self, emit: Callable[[Record], None]) -> None:
        scenario = self.scenario
        self.config = load_device_config(self.config_path, scenario, self.data_dir)
        try:
            world_mod.seed(scenario.world, self.config)
            timing = world_mod.timing(scenario.timing)
        except world_mod.WorldError as exc:
            raise ScenarioError(f"scenario {scenario.name!r}: {exc}") from None
        clock = StartedClock()
        self.clock = clock  # type: ignore[assignment]
        self.devices = sim_devices(self.config, self.clock)
        self._stack.callback(self.devices.close)
        self._stack.callback(clock.stop)
        self.line = MeteredLine(SipLine(self.clock, self.config.line.sip_settings()))
        self.devices.line = self.line
        assert isinstance(self.devices.audio, SimAudioPort)
        self.audio = self.devices.audio
        self.mic = world_mod.Mouthpiece(self.clock, self.audio)
        self.records = []
        self.steps = []
        self._emit = emit
        self._actor = _Actor(self.clock, self.devices, None, self.mic, None, self._collect)
        try:
            self.runtime = boot_device(
                self.config,
                self.clock,
                self.devices,
                scenario,
                timing,
                self._collect,
            )
        except DeviceError as exc:
            raise ScenarioError(f"{self.config_path}: the SIP line cannot start ({exc})") from None
        stop = threading.Event()
        thread = threading.Thread(target=self.runtime.run_realtime, args=(stop,), name="sim-play-device", daemon=True)
        thread.start()
        self._stack.callback(thread.join, 5)
        self._stack.callback(stop.set)
        self.mic.start(math.inf)
        self.off_hook = False
        self._key_times = KeyTimes()
        store = Store(self.config.paths.store_path)
        self._stack.callback(store.close)
        self._rules = CallRules.from_config(self.config, store)

    def advance(self, seconds: float) -> None:
        """Nothing to do: a real line's device runs on its own thread, in real time."""

    def far_level(self) -> str:
        """The far end's audio level now, for the panel."""
        if self.now - self.line.level_at > LEVEL_STALE_S:
            return "no audio"
        return f"{self.line.level_dbfs:.0f} dBFS"
