"""The simulated kiosk: the real kiosk firmware on virtual hardware, against the reference central ledger.

A scenario with `device.role = "kiosk"` plays here. Its `[kiosk]` table sets up the world: the facility's
purchase rules, the inmates (PIN, language, trust and phone balances, restriction), the round trip to the central
server, scripted link faults and outages. Records are the runtime's JSON lines (`screen`, `purchase`,
`receipt`, ...).
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from firmware.config import Config
from firmware.device import sim_devices
from firmware.kiosk.device import assemble_kiosk, start_kiosk
from firmware.kiosk.messages import Language, LoginResult
from firmware.kiosk.policy import PurchaseRules
from firmware.store import Store
from hal.clock import VirtualClock
from hal.printer import SimPrinter
from sim.central.purchases import CentralPurchases
from sim.kiosk_service import Fault, SimPurchaseService, VirtualDispatch
from sim.scenario import Scenario, ScenarioError

Record = dict[str, Any]
#: Virtual time zero is this instant on the central server's calendar.
EPOCH = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


class SimInmate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(min_length=1)
    pin: str = Field(pattern=r"^[0-9]{4,12}$")
    language: Language = "en"
    trust_cents: int = Field(0, ge=0)
    phone_cents: int = Field(0, ge=0)
    restricted_until: str = ""


class SimLogin(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    max_attempts: int = Field(3, ge=1)
    lockout_s: float = Field(300.0, gt=0)


class KioskSetup(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rules: PurchaseRules = PurchaseRules()
    inmates: list[SimInmate] = []
    login: SimLogin = SimLogin()
    round_trip_ms: float = Field(200.0, ge=0)
    #: One per call to the central server, in order: ok, unreachable, lose_request, lose_reply.
    faults: list[Fault] = []
    #: [from_s, to_s) intervals during which the central server cannot be reached.
    outages: list[tuple[float, float]] = []


def setup_of(scenario: Scenario) -> KioskSetup:
    try:
        return KioskSetup.model_validate(scenario.kiosk)
    except ValidationError as exc:
        problems = "; ".join(
            f"kiosk.{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors(include_url=False)
        )
        raise ScenarioError(f"scenario {scenario.name!r}: {problems}") from None


class SimRosterLogin:
    """The simulator's roster: PINs in the clear (it is a test fixture), failed tries counted per kiosk."""

    def __init__(self, inmates: list[SimInmate], login: SimLogin, wall: Callable[[float], datetime]) -> None:
        self._by_pin = {inmate.pin: inmate for inmate in inmates}
        self._login = login
        self._wall = wall
        self._failures = 0
        self._locked_until = -1.0

    def check(self, pin: str, at: float) -> LoginResult:
        if at < self._locked_until:
            return LoginResult(at, "locked", locked_until=self._until())
        inmate = self._by_pin.get(pin)
        if inmate is not None:
            self._failures = 0
            return LoginResult(at, "ok", inmate.id, inmate.language, restricted_until=inmate.restricted_until)
        self._failures += 1
        if self._failures >= self._login.max_attempts:
            self._failures = 0
            self._locked_until = at + self._login.lockout_s
            return LoginResult(at, "locked", locked_until=self._until())
        return LoginResult(at, "wrong_pin", attempts_left=self._login.max_attempts - self._failures)

    def _until(self) -> str:
        return self._wall(self._locked_until).strftime("%H:%M UTC")


def run(scenario: Scenario, config: Config, emit: Callable[[Record], None]) -> list[Record]:
    from sim.runner import _Actor  # the same step scheduler as the handset's scenarios

    setup = setup_of(scenario)
    clock = VirtualClock()

    def wall(at: float) -> datetime:
        return EPOCH + timedelta(seconds=at)

    central = CentralPurchases(sqlite3.connect(":memory:", isolation_level=None), setup.rules,
                               now=lambda: wall(clock.now()))
    for inmate in setup.inmates:
        central.set_account(inmate.id, inmate.trust_cents, inmate.phone_cents, inmate.restricted_until)
    service = SimPurchaseService(central, setup.faults)
    for start, end in setup.outages:
        clock.call_at(start, lambda: setattr(service, "down", True))
        clock.call_at(end, lambda: setattr(service, "down", False))
    store_path = Path(config.paths.data_dir) / "kiosk.sqlite"
    for stale in store_path.parent.glob(store_path.name + "*"):
        stale.unlink()
    store = Store(store_path)
    devices = sim_devices(config, clock)
    keys = itertools.count(1)
    records: list[Record] = []
    try:
        actor = _Actor(clock, devices)
        for step in scenario.steps:
            try:
                actor.schedule(step)
            except ValueError as exc:
                raise ScenarioError(f"scenario {scenario.name!r} step at {step.at_s}s: {exc}") from None
        runtime, client = assemble_kiosk(
            config, clock, devices, store, service, SimRosterLogin(setup.inmates, setup.login, wall),
            VirtualDispatch(clock, setup.round_trip_ms / 1000), SimPrinter(),
            new_key=lambda: f"{config.device.id}-{next(keys):04d}",
        )

        def collect(record: Record) -> None:
            records.append(record)
            emit(record)

        runtime.observe(collect)
        start_kiosk(runtime, client, devices, clock)
        runtime.run_virtual(clock, scenario.end_time())
        for inmate in setup.inmates:
            trust, phone = central.balances(inmate.id)
            runtime.note({"t_ms": round(clock.now() * 1000), "event": "central_account", "inmate_id": inmate.id,
                          "trust_cents": trust, "phone_cents": phone})
    finally:
        devices.close()
        store.close()
    return records
