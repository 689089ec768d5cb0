"""A purchase key the sync protocol would refuse is stopped where it enters the purchase client, in one line."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from firmware.kiosk.client import PurchaseClient
from firmware.kiosk.ledger import KioskLedger
from firmware.kiosk.messages import PurchaseUpdate, SubmitPurchase
from firmware.kiosk.service import KEY_LENGTHS, key_problem
from firmware.kiosk.sync_service import SyncPurchaseService
from firmware.store import Store
from firmware.sync.schema import Purchase, PurchaseQuery
from hal.events import Event
from sim.central.kiosk_loopback import LoopbackCentral
from tests.kiosk.helpers import ALICE


@pytest.fixture
def central(tmp_path: Path) -> Iterator[LoopbackCentral]:
    server = LoopbackCentral(tmp_path)
    server.account(ALICE.id, ALICE.trust_cents, ALICE.phone_cents)
    yield server
    server.close()


@pytest.mark.parametrize("length", [KEY_LENGTHS.start - 1, KEY_LENGTHS.start, KEY_LENGTHS.stop - 1, KEY_LENGTHS.stop])
def test_the_key_rule_is_the_protocols(length: int) -> None:
    key = "k" * length
    fits = key_problem(key) is None
    for body in (lambda: Purchase(key=key, account="debit:A1", amount_cents=500), lambda: PurchaseQuery(key=key)):
        try:
            body()
        except ValidationError:
            assert not fits, f"the protocol refuses a key of {length} characters that the kiosk takes"
        else:
            assert fits, f"the kiosk refuses a key of {length} characters that the protocol takes"


def test_a_long_key_is_named_shortly() -> None:
    problem = key_problem("x" * 500)
    assert problem is not None and len(problem) < 100 and "500 characters" in problem


@pytest.mark.hardware
def test_a_short_key_is_one_clear_line_and_the_next_purchase_still_goes(
    central: LoopbackCentral, tmp_path: Path
) -> None:
    service = SyncPurchaseService(central.start_tcp(), central.enroll("kiosk-7"), "kiosk-7", timeout=5)
    ledger = KioskLedger(Store(tmp_path / "kiosk.sqlite"))
    posted: list[Event] = []
    client = PurchaseClient(ledger, service, "kiosk-7", posted.append, lambda job: job(), time.monotonic)
    try:
        client.submit(SubmitPurchase("k-00001", ALICE.id, 500, 0))
        client.submit(SubmitPurchase("k-000002", ALICE.id, 500, 0))
    finally:
        service.close()
    updates = [e for e in posted if isinstance(e, PurchaseUpdate)]
    assert [(u.key, u.status) for u in updates] == [("k-00001", "not_sent"), ("k-000002", "applied")]
    assert updates[0].reason == "purchase key 'k-00001' has 7 characters: a key has 8 to 64"
    assert [e.key for e in ledger.entries()] == ["k-000002"], "the refused key is neither committed nor sent"
    assert central.balances(ALICE.id) == (ALICE.trust_cents - 500, ALICE.phone_cents + 500)
