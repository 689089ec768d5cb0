"""A tampered kiosk asking the central server for an inmate's money, or moving it, without the inmate's PIN.

The attacker holds an enrolled kiosk: its sync key, its store (every inmate's PIN verifier and proof key's public
half) and the facility's pepper. Before, the server answered any account query and took any purchase for an inmate
of the kiosk's facility: only the kiosk checked the PIN.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware.rules.identity import SIMULATION_COST, make_pin_entry
from firmware.rules.pin_proof import META, PinProof, account_message, verify
from firmware.store.cache import CentralCache
from firmware.sync.schema import AccountInfo, AccountQuery, Purchase, PurchaseResult
from sim.kiosk_world import SIM_PIN_KEY
from tests.kiosk.helpers import ALICE, BETO, login, make_world
from tests.security.test_money_attacks import ACCOUNT, ask, balances
from tests.sync.conftest import DEVICE, World, proof_key, signed

INMATE = 1  # ACCOUNT's inmate, I00001


def query(proof: PinProof | None, device: str = DEVICE, inmate: int = INMATE) -> AccountQuery:
    account = f"debit:I{inmate:05d}"
    signature = proof.sign(account_message(device, f"I{inmate:05d}")) if proof else ""
    return AccountQuery(account=account, proof=signature)


def test_an_account_query_needs_the_inmates_own_proof_for_this_device(world: World) -> None:
    honest, bare, anothers, for_other_device = ask(
        world,
        query(proof_key(INMATE)),
        query(None),
        query(proof_key(2)),  # another inmate's key: the attacker's own PIN
        query(proof_key(INMATE), device="K-99"),  # a proof another kiosk saw
    )
    assert isinstance(honest, AccountInfo) and honest.known and honest.trust_cents == 5000 and not honest.refused
    for refused in (bare, anothers, for_other_device):
        assert isinstance(refused, AccountInfo)
        assert (refused.refused, refused.known, refused.trust_cents, refused.balance_cents) == (
            "pin_proof",
            False,
            0,
            0,
        )
        assert refused.recent == [] and refused.rules == {}, "nothing of the inmate's is shown"


@pytest.mark.parametrize(
    "change",
    [
        {"meta": {"fee_cents": "0"}},  # no proof at all
        {"amount_cents": 4000},  # the proof signed 1000
        {"meta": {"fee_cents": "300", META: "x"}},  # a fee the inmate never agreed to, a junk proof
        {"key": "another-key"},  # the proof of an earlier purchase, sent again under a new key
    ],
)
def test_a_purchase_without_the_inmates_proof_for_it_moves_nothing(world: World, change: dict[str, object]) -> None:
    honest = signed(Purchase(key="honest-0001", account=ACCOUNT, amount_cents=1000, meta={"fee_cents": "0"}))
    hostile = honest.model_copy(update=change)
    refused, applied = ask(world, hostile, honest)
    assert isinstance(refused, PurchaseResult) and (refused.status, refused.reason) == ("rejected", "pin_proof")
    assert isinstance(applied, PurchaseResult) and applied.status == "applied"
    assert balances(world) == (4000, 2000), "only the honest purchase moved money"


def test_a_roster_made_before_proofs_is_refused_and_says_so(world: World) -> None:
    central = world.central()
    value = central.get("inmates", "I00003")
    assert isinstance(value, dict)
    del value["pin_proof_key"]
    central.put("inmates", "I00003", value)
    central.close()
    purchase = Purchase(key="old-roster-1", account="debit:I00003", amount_cents=500, meta={"fee_cents": "0"})
    (answer,) = ask(world, signed(purchase))
    assert isinstance(answer, PurchaseResult) and (answer.status, answer.reason) == ("rejected", "no_pin_proof_key")


def test_what_a_kiosk_holds_makes_no_proof_only_the_pin_does() -> None:
    """The store's verifier and public key are all a kiosk keeps of an inmate: neither signs as the PIN does."""
    key_id, secret = SIM_PIN_KEY
    verifier, proof = make_pin_entry(key_id, secret, ALICE.pin, cost=SIMULATION_COST)
    message = account_message("kiosk-7", ALICE.id)
    assert verify(proof.public_key, proof.sign(message), message)
    from_store = PinProof(bytes.fromhex(verifier.split(":", 1)[1]))  # the verifier's 32 bytes as a seed
    assert not verify(proof.public_key, from_store.sign(message), message)
    wrong_pin = make_pin_entry(key_id, secret, "0000", cost=SIMULATION_COST)[1]
    assert not verify(proof.public_key, wrong_pin.sign(message), message)


def test_a_kiosk_whose_roster_was_rewritten_logs_in_but_central_shows_and_sells_nothing(tmp_path: Path) -> None:
    """The attacker writes a PIN of their own into BETO's roster entry in the kiosk's store and logs in as BETO."""
    world = make_world(tmp_path)
    try:
        key_id, secret = SIM_PIN_KEY
        cache = CentralCache(world.store)
        entry = dict(cache.get("inmates", BETO.id) or {})
        entry["pin_verifier"] = make_pin_entry(key_id, secret, "1111", cost=SIMULATION_COST)[0]
        with world.store.transaction() as db:
            cache.put(db, "inmates", BETO.id, entry, 2)
        login(world, "1111")
        assert "PIN no aceptado." in world.screen, world.screen  # BETO reads Spanish
        (account,) = world.of("account")
        assert account["refused"] == "pin_proof" and account["trust_cents"] == 0
        assert [(r["action"], r["detail"]) for r in world.of("session")][:2] == [
            ("login", ""),
            ("refused", "pin_proof"),
        ]
        assert world.central.balances(BETO.id) == (BETO.trust_cents, BETO.phone_cents)
        world.run_for(5.0)  # the goodbye screen's notice ends
        login(world, ALICE.pin)  # the kiosk itself still works for an inmate who types their own PIN
        assert world.screen[0] == "1 Balances", world.screen
    finally:
        world.close()
