"""The balance a handset shows is never too high around a sync: a charge the server acknowledged stops
counting as unsynced only in the transaction that brings the server's lowered balance into the cache."""

from __future__ import annotations

import pytest

from firmware.rules.facility import load_rules
from firmware.rules.records import Records
from firmware.rules.service import CallRules
from firmware.store import Store
from firmware.store.outbox import Outbox
from firmware.sync.channel import ChannelClosed
from tests.sync.conftest import DEVICE, World, charge_proof, run_session

ACCOUNT = "debit:I00000"
CHARGE = 40
#: Messages the server sends in a session that pushes one batch: welcome, one page of changes, push_ack.
UP_TO_PUSH_ACK = 3


def charge(store: Store) -> None:
    """A call's charge, committed with its outbox item as the call flow commits it."""
    records = Records(store, load_rules(None), DEVICE)
    with store.transaction() as db:
        proof = charge_proof("call-1", ACCOUNT)
        records.ledger.entry(db, "call-1", ACCOUNT, "charge", CHARGE, "2026-11-24T20:00:00.000+00:00", proof)


def shown(store: Store) -> int | None:
    return CallRules(store, load_rules(None), DEVICE, "B").balance_cents("debit", "I00000")


def test_a_session_cut_after_the_server_acknowledged_a_charge_still_counts_it(world: World) -> None:
    store = world.store()
    assert run_session(world, store).agree
    balance = shown(store)
    assert balance == 1000
    charge(store)
    assert shown(store) == balance - CHARGE

    with pytest.raises((ChannelClosed, TimeoutError)):
        run_session(world, store, server_cut_after=UP_TO_PUSH_ACK)
    central = world.central()
    try:
        account = central.get("accounts", ACCOUNT)
        assert account is not None and account["balance_cents"] == balance - CHARGE, "the server took it"
    finally:
        central.close()
    assert shown(store) == balance - CHARGE, "not briefly too high: the charge still counts until the refresh"

    report = run_session(world, store)
    assert report.agree and report.pushed == 0, "not sent again: the server's push_ack was committed at once"
    assert shown(store) == balance - CHARGE
    assert Outbox(store).count_pending() == 0
    central = world.central()
    try:
        account = central.get("accounts", ACCOUNT)
        assert account is not None and account["balance_cents"] == balance - CHARGE, "charged once"
    finally:
        central.close()


def test_one_session_acknowledges_a_charge_and_refreshes_the_balance(world: World) -> None:
    store = world.store()
    assert run_session(world, store).agree
    charge(store)
    report = run_session(world, store)
    assert report.agree and report.rounds == 2, "the server's change to the account is pulled in the same session"
    assert shown(store) == 1000 - CHARGE
    assert Outbox(store).count_pending() == 0
