"""One device's records must not become data the other devices refuse: a block the rules cannot read would stop
every device of the facility from syncing (balances, lockouts and revocations would stop arriving)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from firmware.store.cache import CentralCache
from firmware.store.outbox import Outbox
from firmware.sync.schema import Purchase, PurchaseResult, Reserve, ReserveResult
from sim.central import kiosk_sync
from sim.central.db import CentralDB
from tests.security.test_money_attacks import ask
from tests.sync.conftest import World, inmate, proof_key, run_session, signed, signed_charge, write_facility

GOOD = "3125550100"


@pytest.fixture
def facility(tmp_path: Path) -> tuple[World, dict[str, bytes]]:
    keys = {device: os.urandom(32) for device in ("hostile", "honest")}
    central = CentralDB(tmp_path / "central.sqlite")
    for device, key in keys.items():
        central.enroll(device, key)
    central.load_dir(write_facility(tmp_path / "facility"))
    central.close()
    return World(tmp_path, tmp_path / "central.sqlite", keys["hostile"]), keys


@pytest.mark.parametrize(
    "block",
    [
        {"number": "1234", "at": "2026-12-03T12:00:00+00:00"},  # digits, but no number the rules keep
        {"number": "x1", "at": "2026-12-03T12:00:00+00:00"},  # was accepted: the pattern matched its tail
        {"number": GOOD, "at": "yesterday"},  # a good number whose date the rules cannot read
    ],
    ids=["short", "tail", "date"],
)
def test_one_devices_block_cannot_stop_every_other_device_from_syncing(
    facility: tuple[World, dict[str, bytes]], block: dict[str, str]
) -> None:
    world, keys = facility
    honest = world.store("honest")
    assert run_session(world, honest, device_id="honest", key=keys["honest"]).agree
    hostile = world.store("hostile")
    Outbox(hostile).append("block", block)
    Outbox(hostile).append("block", {"number": "3125550199", "at": "2026-12-03T12:00:00+00:00"})
    pushed = run_session(world, hostile, device_id="hostile", key=keys["hostile"])
    assert pushed.agree and any("blocks" in note or "number" in note for note in pushed.notes)
    # Before: the server wrote blocks/<number>, and every device's next pull failed with DownstreamError.
    after = run_session(world, honest, device_id="honest", key=keys["honest"])
    assert after.agree
    assert CentralCache(honest).get("blocks", "3125550199") is not None, "the good block still reaches everyone"
    central = world.central()
    assert central.refused_count("hostile") == 1
    central.close()


def test_an_inmate_id_the_roster_allows_can_buy_reserve_and_be_charged(tmp_path: Path) -> None:
    """The roster allows '.' in an inmate id; the server's account check did not, so such an inmate could never
    buy minutes at the kiosk nor get a reservation, and a junk prefix passed for its tail."""
    key = os.urandom(32)
    directory = write_facility(tmp_path / "facility", inmates=1)
    (directory / "inmates.jsonl").write_text(json.dumps({"key": "I.100", "value": inmate(100, name="Dotted")}) + "\n")
    (directory / "accounts.jsonl").write_text(
        json.dumps({"key": "debit:I.100", "value": {"balance_cents": 1000}}) + "\n"
    )
    central = CentralDB(tmp_path / "central.sqlite")
    central.enroll("A-12", key)
    central.load_dir(directory)
    kiosk_sync.set_trust(central, "I.100", 5000)
    central.close()
    world = World(tmp_path, tmp_path / "central.sqlite", key)
    bought, reserved = ask(
        world,
        signed(
            Purchase(key="dotted-0001", account="debit:I.100", amount_cents=500, meta={"fee_cents": "0"}),
            proof=proof_key(100),
        ),
        Reserve(account="debit:I.100", amount_cents=300),
    )
    assert isinstance(bought, PurchaseResult) and bought.status == "applied" and bought.balance_cents == 1500
    assert isinstance(reserved, ReserveResult) and reserved.granted_cents == 300
    store = world.store()
    run_session(world, store)
    charge = {"call_id": "c1", "kind": "charge", "at": "2026-12-03T12:00:00+00:00", "amount_cents": 200}
    Outbox(store).append("ledger", signed_charge({**charge, "account": "debit:I.100"}, proof=proof_key(100)))
    Outbox(store).append("ledger", {**charge, "call_id": "c2", "account": "!!debit:I.100"})
    report = run_session(world, store)
    assert report.agree and any("account" in note for note in report.notes)
    central = world.central()
    assert central.get("accounts", "debit:I.100") == {"balance_cents": 1300}
    assert central.refused_count("A-12") == 1
    central.close()
