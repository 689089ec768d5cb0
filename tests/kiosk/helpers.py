"""Building simulated kiosks for the kiosk tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from firmware import config as config_mod
from firmware.kiosk.policy import PurchaseRules
from firmware.kiosk.service import PurchaseService
from firmware.runtime import Runtime
from hal.clock import Clock
from hal.events import KeyDown, KeyUp
from sim.central.purchases import CentralPurchases
from sim.kiosk_world import KioskSetup, KioskWorld, SimInmate

ALICE = SimInmate(id="A1001", pin="4321", trust_cents=4550, phone_cents=300)
BETO = SimInmate(id="B2002", pin="9876", language="es", trust_cents=10000, phone_cents=0)
RAY = SimInmate(id="R3003", pin="5555", trust_cents=10000, restricted_until="2026-02-01")


def press(runtime: Runtime, clock: Clock, keys: str) -> None:
    """Each key down and up, posted to a kiosk running in real time."""
    for key in keys:
        runtime.post(KeyDown(clock.now(), key))
        runtime.post(KeyUp(clock.now(), key, held_ms=80))


def kiosk_config(tmp_path: Path, **sections: dict[str, Any]) -> config_mod.Config:
    overrides: dict[str, Any] = {
        "device": {"role": "kiosk", "id": "kiosk-7"},
        "paths": {"data_dir": str(tmp_path)},
        "keypad": {"layout": "4x4", "cols": [12, 16, 20, 21]},
        "kiosk": {"inactivity_s": 30, "reply_timeout_s": 5, "query_retry_s": 3, "give_up_s": 40, "notice_s": 4},
    }
    for name, values in sections.items():
        overrides[name] = {**overrides.get(name, {}), **values}
    return config_mod.load(None, overrides)


def make_world(
    tmp_path: Path,
    inmates: tuple[SimInmate, ...] = (ALICE, BETO, RAY),
    rules: PurchaseRules | None = None,
    central: CentralPurchases | None = None,
    fresh: bool = True,
    start_at: float = 0.0,
    config: config_mod.Config | None = None,
    service: PurchaseService | None = None,
    **setup: Any,
) -> KioskWorld:
    world = KioskWorld(
        config or kiosk_config(tmp_path),
        KioskSetup(rules=rules or PurchaseRules(), inmates=list(inmates), **setup),
        central=central,
        fresh=fresh,
        start_at=start_at,
        service=service,
    )
    world.start()
    world.run_for(0.5)
    return world


def login(world: KioskWorld, pin: str = "4321") -> None:
    world.keys(pin + "#")
    world.run_for(1.0)


def screens_fit(world: KioskWorld) -> bool:
    return all(len(line) <= 20 for r in world.of("screen") for line in r["lines"])
