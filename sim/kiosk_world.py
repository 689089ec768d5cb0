"""The simulated kiosk: the real kiosk firmware on virtual hardware, against the reference central ledger.

A scenario with `device.role = "kiosk"` plays here. Its `[kiosk]` table sets up the world: the facility's
purchase rules, the inmates (PIN, language, trust and phone balances, restriction), the round trip to the central
server, scripted link faults and outages. Records are the runtime's JSON lines (`screen`, `purchase`,
`receipt`, ...).
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from firmware.config import Config
from firmware.device import Platform, build, sim_devices
from firmware.kiosk.client import Prove
from firmware.kiosk.messages import Language
from firmware.kiosk.policy import PurchaseRules
from firmware.kiosk.service import PurchaseService
from firmware.kiosk.wiring import KioskInstalled
from firmware.rules.datasets import Inmate, Restriction
from firmware.rules.identity import SIMULATION_COST, make_pin_entry, pin_key_value
from firmware.rules.pin_proof import PinProof
from firmware.store import Store
from firmware.store.cache import CentralCache
from hal.clock import VirtualClock
from hal.display import SimDisplay
from hal.printer import SimPrinter
from sim.central.purchases import CentralPurchases
from sim.kiosk_service import Fault, SimPurchaseService, VirtualDispatch
from sim.scenario import Scenario, ScenarioError

Record = dict[str, Any]
#: Virtual time zero is this instant on the central server's calendar.
EPOCH = datetime(2026, 1, 15, 15, 0, tzinfo=UTC)  # 09:00 at the demo facility (America/Chicago)


class SimInmate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(min_length=1)
    pin: str = Field(pattern=r"^[0-9]{4,12}$")
    language: Language = "en"
    trust_cents: int = Field(0, ge=0)
    phone_cents: int = Field(0, ge=0)
    restricted_until: str = ""


class KioskSetup(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rules: PurchaseRules = PurchaseRules()
    inmates: list[SimInmate] = []
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


#: The simulator's PIN-verifier key (central data in the field); only verifiers reach the kiosk's store.
SIM_PIN_KEY = ("sim", "6b" * 32)


def _pin_entry(inmate: SimInmate) -> tuple[str, PinProof]:
    key_id, secret = SIM_PIN_KEY
    return make_pin_entry(key_id, secret, inmate.pin, cost=SIMULATION_COST)


def roster_entry(inmate: SimInmate) -> tuple[str, str]:
    """The roster's PIN verifier of the inmate and the public key of their PIN's proof key (central's check)."""
    verifier, proof = _pin_entry(inmate)
    return verifier, proof.public_key


def proof_keys(inmates: Iterable[SimInmate]) -> dict[str, str]:
    """What the simulated central server checks each inmate's proof of PIN against."""
    return {inmate.id: roster_entry(inmate)[1] for inmate in inmates}


def logged_in(inmates: Iterable[SimInmate]) -> Prove:
    """Signs for each of these inmates as a kiosk does while they are logged in (a purchase client's `prove`, for
    tests and benchmarks that drive the client without the keypad)."""
    proofs = {i.id: _pin_entry(i)[1] for i in inmates}
    return lambda inmate_id, message: proofs[inmate_id].sign(message) if inmate_id in proofs else ""


def seed_roster(store: Store, inmates: list[SimInmate]) -> None:
    """Put the inmates into the kiosk's copy of central data, as sync would: keyed PIN verifiers, no PINs."""
    cache = CentralCache(store)
    key_id, secret = SIM_PIN_KEY
    with store.transaction() as db:
        cache.put(db, "pin_keys", key_id, pin_key_value(secret, SIMULATION_COST), 1)
        for inmate in inmates:
            verifier, public_key = roster_entry(inmate)
            value = Inmate(
                pin_verifier=verifier,
                pin_proof_key=public_key,
                name=inmate.id,
                language=inmate.language,
                status="restricted" if inmate.restricted_until else "active",
                restriction=Restriction(reason="disciplinary", until=date.fromisoformat(inmate.restricted_until))
                if inmate.restricted_until
                else None,
            )
            cache.put(db, "inmates", inmate.id, value.model_dump(mode="json"), 1)


class KioskWorld:
    """One simulated kiosk on a virtual clock; tests drive it step by step, scenarios through `run`.

    `central` may be passed in to keep the central server's books across a kiosk restart, and `fresh=False`
    keeps the kiosk's own store: together they model a kiosk process killed and started again. `service`
    replaces the in-process central server (e.g. the sync protocol to a real reference server).
    """

    def __init__(
        self,
        config: Config,
        setup: KioskSetup,
        emit: Callable[[Record], None] = lambda r: None,
        central: CentralPurchases | None = None,
        fresh: bool = True,
        start_at: float = 0.0,
        service: PurchaseService | None = None,
    ) -> None:
        self.config = config
        self.setup = setup
        self.clock = VirtualClock(start_at)
        if central is None:
            central = CentralPurchases(
                sqlite3.connect(":memory:", isolation_level=None), setup.rules, now=lambda: self.wall(self.clock.now())
            )
            for inmate in setup.inmates:
                central.set_account(inmate.id, inmate.trust_cents, inmate.phone_cents, inmate.restricted_until)
        self.central = central
        self.service = SimPurchaseService(central, proof_keys(setup.inmates), setup.faults)
        self.purchase_service: PurchaseService = service or self.service
        for begin, end in setup.outages:
            self.clock.call_at(begin, lambda: setattr(self.service, "down", True))
            self.clock.call_at(end, lambda: setattr(self.service, "down", False))
        store_path = Path(config.paths.data_dir) / "kiosk.sqlite"
        if fresh:
            for stale in store_path.parent.glob(store_path.name + "*"):
                stale.unlink()
        self.store = Store(store_path)
        seed_roster(self.store, setup.inmates)
        self.devices = sim_devices(config, self.clock)
        self.printer = SimPrinter()
        self.dispatch = VirtualDispatch(self.clock, setup.round_trip_ms / 1000)
        keys = itertools.count(1)
        prefix = f"{config.device.id}-{round(start_at * 1000)}"
        self.assembly = build(
            config,
            self.clock,
            self.devices,
            Platform(
                wall=self.wall,
                store=self.store,
                dispatch=self.dispatch,
                purchase_service=self.purchase_service,
                printer=self.printer,
                new_key=lambda: f"{prefix}-{next(keys):04d}",
                sync=False,
            ),
        )
        self.runtime = self.assembly.runtime
        installed = self.assembly.installed
        assert isinstance(installed, KioskInstalled) and installed.client is not None
        self.client = installed.client
        self.records: list[Record] = []

        def collect(record: Record) -> None:
            self.records.append(record)
            emit(record)

        self.runtime.observe(collect)

    @staticmethod
    def wall(at: float) -> datetime:
        return EPOCH + timedelta(seconds=at)

    def start(self) -> None:
        self.assembly.start()

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
        display = self.devices.display
        assert isinstance(display, SimDisplay)  # sim_devices made it
        return [line.rstrip() for line in display.current]

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
            world.runtime.note(
                {
                    "t_ms": round(world.clock.now() * 1000),
                    "event": "central_account",
                    "inmate_id": inmate.id,
                    "trust_cents": trust,
                    "phone_cents": phone,
                }
            )
    finally:
        world.close()
    return world.records
