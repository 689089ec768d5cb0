"""A tampered handset charging calls nobody made to any inmate's account, over a real session.

The attacker holds an enrolled handset (its sync key and store) and queues ledger charges of its own. Before, the
server took every one: three charges of 900 cents took an inmate's debit balance from 1000 to -1700 cents.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from firmware.rules.identity import SIMULATION_COST, make_pin_entry
from firmware.rules.pin_proof import call_message, verify
from firmware.store import Store
from firmware.store.outbox import Outbox
from tests.rules.conftest import SECRET, local
from tests.rules.test_records import grant, setup
from tests.sync.conftest import DEVICE, World, charge_proof, proof_key, run_session, signed_charge

ACCOUNT = "debit:I00007"
CHARGE: dict[str, Any] = {"call_id": "c1", "account": ACCOUNT, "kind": "charge", "amount_cents": 900, "at": "t"}


def push(world: World, *charges: dict[str, Any]) -> tuple[int, int]:
    """The charges through one session from the enrolled handset: (the account's balance, records refused)."""
    store = world.store()
    run_session(world, store)
    for entry in charges:
        Outbox(store).append("ledger", entry)
    assert run_session(world, store).agree
    central = world.central()
    try:
        account = central.get("accounts", ACCOUNT)
        assert isinstance(account, dict)
        return int(account["balance_cents"]), central.refused_count(DEVICE)
    finally:
        central.close()


@pytest.mark.parametrize(
    "charge",
    [
        CHARGE,  # no proof at all: the attack as it ran before
        {**CHARGE, **charge_proof("c1", ACCOUNT, proof=proof_key(2))},  # the attacker's own PIN
        {**CHARGE, **charge_proof("c1", ACCOUNT, "H-99")},  # a proof another handset made
        {**CHARGE, **charge_proof("c0", ACCOUNT)},  # a proof made for another call
        {**CHARGE, **charge_proof("c1", "debit:I00002"), "account": ACCOUNT},  # made for another account
        {**CHARGE, "inmate_id": "I00002", **{"proof": charge_proof("c1", ACCOUNT)["proof"]}},  # another payer
    ],
)
def test_a_charge_without_the_callers_proof_for_that_call_takes_nothing(world: World, charge: dict) -> None:
    assert push(world, charge) == (1000, 1)


def test_a_calls_proof_pays_for_one_charge_only(world: World) -> None:
    first = signed_charge(CHARGE)
    again = {**first, "amount_cents": 500}  # another record for the same call: the proof replayed
    assert push(world, first, again) == (100, 1)


def test_a_charge_sent_again_after_a_lost_acknowledgement_is_taken_once_and_not_refused(world: World) -> None:
    store = world.store()
    run_session(world, store)
    Outbox(store).append("ledger", signed_charge(CHARGE))
    run_session(world, store)
    with store.transaction() as db:  # as if the acknowledgement never arrived: the record goes again
        db.execute("UPDATE outbox SET acked_at = NULL, delivered_at = NULL")
    assert run_session(world, store).agree
    central = world.central()
    try:
        assert central.get("accounts", ACCOUNT) == {"balance_cents": 100}
        assert central.refused_count(DEVICE) == 0
    finally:
        central.close()


def test_a_calls_proof_is_made_when_it_opens_and_survives_a_power_cut(tmp_path: Path) -> None:
    """The charge of a call a power cut left open is written at the next start, with no PIN typed since."""
    now = local(2026, 11, 24, 15, 0)
    store = Store(tmp_path / "handset.sqlite")
    rules = setup(store)
    proof = make_pin_entry("k1", SECRET, "1234", cost=SIMULATION_COST)[1]  # what identify gave at the keypad
    call_id = rules.open_call("I1", grant(rules), now, proof=proof)
    rules.connected(call_id, now + timedelta(seconds=20))
    rules.checkpoint(call_id, 130)
    store.close()

    store = Store(tmp_path / "handset.sqlite")  # the next start
    (record,) = setup(store).recover(now + timedelta(hours=1))
    charges = [i.payload for i in Outbox(store).pending() if i.kind == "ledger" and i.payload["kind"] == "charge"]
    assert record.charge_cents > 0 and len(charges) == 1
    (charge,) = charges
    message = call_message(rules.device_id, call_id, "I1", "debit:I1")
    assert charge["inmate_id"] == "I1" and verify(proof.public_key, charge["proof"], message)
    store.close()
