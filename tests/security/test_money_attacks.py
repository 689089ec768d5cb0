"""A device trying to make, move or replay money through the central server, over a real session.

The attacker holds one enrolled device's key (a tampered kiosk or handset) and sends what it likes.
"""

from __future__ import annotations

import os
import threading

import pytest

from firmware.store.outbox import Outbox
from firmware.sync.conversation import open_as_device
from firmware.sync.schema import Body, Purchase, PurchaseResult
from sim.central.server import serve_channel
from tests.sync.conftest import DEVICE, World, channel_pair, run_session, signed

ACCOUNT = "debit:I00001"


def ask(world: World, *bodies: Body, key: bytes | None = None, device: str = DEVICE) -> list[Body]:
    """One session: send each body and collect each answer; raises what the device side sees."""
    device_side, server_side = channel_pair()
    server = threading.Thread(target=serve_channel, args=(server_side, world.config()), daemon=True)
    server.start()
    try:
        conv, _welcome = open_as_device(device_side, device, key or world.key, 5.0)
        answers = []
        for body in bodies:
            conv.send(body)
            answers.append(conv.recv(5.0))
        return answers
    finally:
        device_side.close()
        server.join(10)
        server_side.close()


def balances(world: World) -> tuple[int, int]:
    central = world.central()
    try:
        trust = central.db.execute("SELECT trust_cents FROM kiosk_accounts WHERE inmate_id = 'I00001'").fetchone()[0]
        account = central.get("accounts", ACCOUNT)
        assert isinstance(account, dict)
        return int(trust), int(account["balance_cents"])
    finally:
        central.close()


@pytest.mark.parametrize(
    ("account", "fee"),
    [
        (ACCOUNT, "²"),  # str.isdigit() is True, int() raises: was an internal error ending the session
        (ACCOUNT, "9" * 30),  # beyond 64 bits: was an OverflowError in the ledger
        (ACCOUNT, "-5"),
        (ACCOUNT, " 5"),
        ("debit:", "0"),  # no inmate: was a PurchaseError raised out of the session
        ("prepaid:3055550100", "0"),
    ],
)
def test_a_malformed_kiosk_fee_or_account_is_rejected_and_the_session_goes_on(
    world: World, account: str, fee: str
) -> None:
    hostile = Purchase(key="hostile-01", account=account, amount_cents=1000, meta={"fee_cents": fee})
    honest = signed(Purchase(key="honest-001", account=ACCOUNT, amount_cents=1000, meta={"fee_cents": "0"}))
    refused, applied = ask(world, hostile, honest)
    assert isinstance(refused, PurchaseResult) and refused.status == "rejected"
    assert refused.reason.startswith("invalid"), refused.reason  # invalid_account, or the fee named
    assert isinstance(applied, PurchaseResult) and applied.status == "applied"
    assert balances(world) == (4000, 2000), "only the honest purchase moved money"


def test_a_replayed_purchase_moves_money_once_even_from_another_session(world: World) -> None:
    purchase = signed(Purchase(key="replay-0001", account=ACCOUNT, amount_cents=700, meta={"fee_cents": "0"}))
    (first,) = ask(world, purchase)
    (again,) = ask(world, purchase)
    (twice,) = ask(world, purchase, signed(purchase.model_copy(update={"amount_cents": 900})))[1:]
    (altered,) = ask(world, purchase.model_copy(update={"amount_cents": 900}))  # the proof signed 700
    assert isinstance(first, PurchaseResult) and first.status == "applied"
    assert isinstance(again, PurchaseResult) and isinstance(twice, PurchaseResult)
    assert (again.status, again.balance_cents) == (twice.status, twice.balance_cents) == ("applied", 1700)
    assert isinstance(altered, PurchaseResult) and (altered.status, altered.reason) == ("rejected", "pin_proof")
    assert balances(world) == (4300, 1700)


def test_a_device_cannot_credit_its_own_or_anothers_account_with_ledger_records(world: World) -> None:
    """Negative charges, releases, reserves and unknown kinds: none adds a cent anywhere."""
    store = world.store()
    run_session(world, store)
    outbox = Outbox(store)
    base = {"call_id": "c1", "at": "2026-01-05T10:00:00+00:00"}
    outbox.append("ledger", {**base, "account": ACCOUNT, "kind": "charge", "amount_cents": -5000})
    outbox.append("ledger", {**base, "account": "debit:I00002", "kind": "charge", "amount_cents": -1})
    outbox.append("ledger", {**base, "account": ACCOUNT, "kind": "release", "amount_cents": 5000})
    outbox.append("ledger", {**base, "account": ACCOUNT, "kind": "reserve", "amount_cents": 0})
    outbox.append("ledger", {**base, "account": ACCOUNT, "kind": "refund", "amount_cents": 5000})
    report = run_session(world, store)
    assert report.agree
    central = world.central()
    try:
        assert central.get("accounts", ACCOUNT) == {"balance_cents": 1000}
        assert central.get("accounts", "debit:I00002") == {"balance_cents": 1000}
        assert central.refused_count(DEVICE) == 3
    finally:
        central.close()


def test_a_purchase_for_another_facilitys_inmate_moves_nothing(world: World) -> None:
    """A device of facility "north" names an inmate id that exists only in the default facility."""
    central = world.central()
    north_key = os.urandom(32)
    central.for_facility("north").enroll("north-1", north_key)
    central.close()
    purchase = signed(Purchase(key="cross-0001", account=ACCOUNT, amount_cents=500, meta={"fee_cents": "0"}), "north-1")
    (answer,) = ask(world, purchase, key=north_key, device="north-1")
    assert isinstance(answer, PurchaseResult) and answer.status == "rejected"
    assert balances(world) == (5000, 1000)
