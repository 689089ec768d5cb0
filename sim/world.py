"""Setting up the simulated world: facility rules, the central data the device has cached, the inmate's voice.

The world is given in the scenario (sim/scenario.py `World`) in the central server's own formats; here it is
validated with the device's schemas and written where the device reads it, before the device starts.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from firmware.config import Config
from firmware.handset.machine import HandsetFlow
from firmware.handset.policy import PolicyError, Timing, load_timing
from firmware.rules.datasets import DatasetError, validate_value
from firmware.rules.facility import DEFAULT_RULES_PATH, RulesError, validate_rules
from firmware.rules.identity import SIMULATION_COST, make_pin_entry, pin_key_value
from firmware.runtime import Runtime
from firmware.store import Store
from firmware.store.cache import CentralCache
from hal.audio import FRAME_SAMPLES, SAMPLE_RATE, SimAudioPort, to_int16
from hal.clock import Clock
from sim.network import sound

#: The simulated central server's PIN key (a test secret, never a real one).
SIM_PIN_KEY_ID = "sim"
SIM_PIN_SECRET = "5ea1ed0c" * 8


class WorldError(ValueError):
    """A world that cannot be set up; str() names the dataset, the key and the problem."""


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def write_rules(overrides: dict[str, Any], data_dir: Path) -> Path:
    """The demo facility's rules with the scenario's overrides, validated, written into the data directory."""
    data = _merge(tomllib.loads(DEFAULT_RULES_PATH.read_text(encoding="utf-8")), overrides)
    try:
        validate_rules(data, "scenario rules")
    except RulesError as exc:
        raise WorldError(str(exc)) from None
    path = data_dir / "rules.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def central_values(world: Any) -> list[tuple[str, str, Any]]:
    values: list[tuple[str, str, Any]] = [("pin_keys", SIM_PIN_KEY_ID, pin_key_value(SIM_PIN_SECRET, SIMULATION_COST))]
    for inmate_id, entry in world.inmates.items():
        entry = dict(entry)
        pin = str(entry.pop("pin", ""))
        if not pin:
            raise WorldError(f"world.inmates.{inmate_id}: needs a pin")
        entry["pin_verifier"], proof = make_pin_entry(SIM_PIN_KEY_ID, SIM_PIN_SECRET, pin, cost=SIMULATION_COST)
        entry["pin_proof_key"] = proof.public_key
        entry.setdefault("name", inmate_id)
        values.append(("inmates", inmate_id, entry))
    for dataset in ("accounts", "numbers", "lists", "blocks"):
        values += [(dataset, key, value) for key, value in getattr(world, dataset).items()]
    return values


def seed(world: Any, config: Config) -> None:
    """Write the world's central data into the device's cache, as a sync would (same values, same keys)."""
    values = central_values(world)
    for dataset, key, value in values:
        try:
            validate_value(dataset, key, value)
        except DatasetError as exc:
            raise WorldError(f"world: {exc}") from None
    store = Store(config.paths.store_path)
    try:
        cache = CentralCache(store)
        with store.transaction() as db:
            for dataset, key, value in values:
                cache.put(db, dataset, key, _jsonable(value), 1)
    finally:
        store.close()


def require_store(config: Config) -> None:
    """Check that the device store to run against is there: an empty one would refuse every PIN."""
    path = config.paths.store_path
    if not path.is_file():
        raise WorldError(f"{path}: no device store to run against (sync the device first)")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def timing(overrides: dict[str, Any]) -> Timing | None:
    """The handset's waits with the scenario's overrides (e.g. a short ring timeout); None if it has none."""
    if not overrides:
        return None
    try:
        return load_timing(overrides=overrides, source="scenario [timing]")
    except PolicyError as exc:
        raise WorldError(str(exc)) from None


def apply_timing(runtime: Runtime, timing: Timing | None) -> None:
    if timing is None:
        return
    for machine in runtime.machines:
        if isinstance(machine, HandsetFlow):
            machine.policy = machine.policy.model_copy(update={"timing": timing})
            machine.timing = timing


class Mouthpiece:
    """The inmate's side of the audio: a frame every 20 ms (room noise, and speech when scripted)."""

    def __init__(self, clock: Clock, port: SimAudioPort, noise_rms: float = 12.0, seed: int = 3) -> None:
        self.clock = clock
        self.port = port
        self._speech: list[tuple[float, np.ndarray]] = []
        self._rng = np.random.default_rng(seed)
        self._noise_rms = noise_rms
        self._end = 0.0

    def say(self, at: float, name: str) -> None:
        self.play(at, sound(name))

    def play(self, at: float, samples: np.ndarray) -> None:
        self._speech.append((at, samples))

    def start(self, end: float) -> None:
        self._end = end
        self.clock.call_at(0.0, lambda: self._tick(0.0))

    def _tick(self, at: float) -> None:
        frame = self._rng.normal(0.0, self._noise_rms, FRAME_SAMPLES)
        for start, samples in self._speech:
            offset = round((at - start) * SAMPLE_RATE)
            if -FRAME_SAMPLES < offset < len(samples):
                lo, hi = max(offset, 0), min(offset + FRAME_SAMPLES, len(samples))
                frame[lo - offset : hi - offset] += samples[lo:hi]
        self.port.speak(to_int16(frame))
        nxt = at + FRAME_SAMPLES / SAMPLE_RATE
        if nxt < self._end:
            self.clock.call_at(nxt, lambda: self._tick(nxt))
