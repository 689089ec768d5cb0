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


class KioskWorld:
    """One simulated kiosk on a virtual clock; tests drive it step by step, scenarios through `run`.

    `central` may be passed in to keep the central server's books across a kiosk restart, and `fresh=False`
    keeps the kiosk's own store: together they model a kiosk process killed and started again.
    """

    def __init__(self, config: Config, setup: KioskSetup, emit: Callable[[Record], None] = lambda r: None,
                 central: CentralPurchases | None = None, fresh: bool = True, start_at: float = 0.0) -> None:
        self.config = config
        self.setup = setup
        self.clock = VirtualClock(start_at)
        if central is None:
            central = CentralPurchases(sqlite3.connect(":memory:", isolation_level=None), setup.rules,
                                       now=lambda: self.wall(self.clock.now()))
            for inmate in setup.inmates:
                central.set_account(inmate.id, inmate.trust_cents, inmate.phone_cents, inmate.restricted_until)
        self.central = central
        self.service = SimPurchaseService(central, setup.faults)
        for begin, end in setup.outages:
            self.clock.call_at(begin, lambda: setattr(self.service, "down", True))
            self.clock.call_at(end, lambda: setattr(self.service, "down", False))
        store_path = Path(config.paths.data_dir) / "kiosk.sqlite"
        if fresh:
            for stale in store_path.parent.glob(store_path.name + "*"):
                stale.unlink()
        self.store = Store(store_path)
        self.devices = sim_devices(config, self.clock)
        self.printer = SimPrinter()
        self.dispatch = VirtualDispatch(self.clock, setup.round_trip_ms / 1000)
        keys = itertools.count(1)
        prefix = f"{config.device.id}-{round(start_at * 1000)}"
        self.runtime, self.client = assemble_kiosk(
            config, self.clock, self.devices, self.store, self.service,
            SimRosterLogin(setup.inmates, setup.login, self.wall), self.dispatch, self.printer,
            new_key=lambda: f"{prefix}-{next(keys):04d}",
        )
        self.records: list[Record] = []

        def collect(record: Record) -> None:
            self.records.append(record)
            emit(record)

        self.runtime.observe(collect)

    @staticmethod
    def wall(at: float) -> datetime:
        return EPOCH + timedelta(seconds=at)

    def start(self) -> None:
        start_kiosk(self.runtime, self.client, self.devices, self.clock, self.config)

    def schedule(self, steps: list[Any]) -> None:
        from sim.runner import _Actor  # the same step scheduler as the handset's scenarios

        actor = _Actor(self.clock, self.devices)
        for step in steps:
            actor.schedule(step)

    def keys(self, keys: str, press_ms: float = 120.0, gap_ms: float = 120.0) -> None:
        """Type `keys` starting now, and run the world until the last key is released."""
        from sim.scenario import Keys

        self.schedule([Keys(at_s=self.clock.now(), action="keys", keys=keys, press_ms=press_ms, gap_ms=gap_ms)])
        self.run_for(len(keys) * (press_ms + gap_ms) / 1000)

    def run_for(self, seconds: float) -> None:
        self.runtime.run_virtual(self.clock, self.clock.now() + seconds)

    @property
    def screen(self) -> list[str]:
        return [line.rstrip() for line in self.devices.display.current]

    def of(self, event: str) -> list[Record]:
        return [r for r in self.records if r["event"] == event]

    def close(self) -> None:
        self.devices.close()
        self.store.close()


def run(scenario: Scenario, config: Config, emit: Callable[[Record], None]) -> list[Record]:
    world = KioskWorld(config, setup_of(scenario), emit)
    try:
        try:
            world.schedule(scenario.steps)
        except ValueError as exc:
            raise ScenarioError(f"scenario {scenario.name!r}: {exc}") from None
        world.start()
        world.runtime.run_virtual(world.clock, scenario.end_time())
        for inmate in world.setup.inmates:
            trust, phone = world.central.balances(inmate.id)
            world.runtime.note({"t_ms": round(world.clock.now() * 1000), "event": "central_account",
                                "inmate_id": inmate.id, "trust_cents": trust, "phone_cents": phone})
    finally:
        world.close()
    return world.records
