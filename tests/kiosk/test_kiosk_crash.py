"""A kiosk process killed at any point of a purchase: never charged twice, never lost.

The kiosk is abandoned mid-flight (between any two events, or inside the central server's apply or the kiosk's
own ledger writes, where an exception stands in for the power cut), then started again on the same store while
the central server keeps its books. After the restart every purchase is settled, at most once, and both sides
agree on it.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from firmware.kiosk.ledger import KioskLedger
from firmware.kiosk.policy import PurchaseRules
from firmware.kiosk.service import PurchaseReply, PurchaseRequest
from firmware.store import Store
from sim.central.purchases import CentralPurchases
from sim.kiosk_world import EPOCH, KioskWorld
from tests.kiosk.helpers import ALICE, login, make_world


class Killed(BaseException):
    """The process dies here."""


def shared_central() -> CentralPurchases:
    central = CentralPurchases(sqlite3.connect(":memory:", isolation_level=None), PurchaseRules(), now=lambda: EPOCH)
    central.set_account(ALICE.id, ALICE.trust_cents, ALICE.phone_cents)
    return central


def buy_and_die(world: KioskWorld, die_after_s: float) -> None:
    login(world)
    world.keys("22")
    try:
        world.keys("#")
        world.run_for(max(0.0, die_after_s - 0.24))
    except Killed:
        pass
    world.devices.close()
    world.store.db.close()


def restart_and_check(tmp_path: Path, central: CentralPurchases, at: float) -> KioskWorld:
    """Start again on the same store; every purchase the kiosk committed is settled, once, as central has it."""
    world = make_world(tmp_path, inmates=(ALICE,), central=central, fresh=False, start_at=at)
    world.run_for(2)
    entries = world.client.ledger.entries()
    sold = central.db.execute("SELECT key FROM kiosk_central_purchases WHERE status = 'applied'").fetchall()
    assert {row[0] for row in sold} <= {e.key for e in entries}, "central applied a purchase the kiosk lost"
    for entry in entries:
        assert entry.status in ("applied", "not_sent", "declined"), entry
        assert central.applied_count(entry.key) == (1 if entry.status == "applied" else 0)
    trust, phone = central.balances(ALICE.id)
    assert trust + phone == ALICE.trust_cents + ALICE.phone_cents
    applied = sum(1 for e in entries if e.status == "applied")
    assert phone == ALICE.phone_cents + 1000 * applied
    assert applied <= 1
    return world


@pytest.mark.parametrize("seed", range(25))
def test_killed_at_a_random_moment_between_events(tmp_path: Path, seed: int) -> None:
    central = shared_central()
    rng = random.Random(seed)
    world = make_world(
        tmp_path,
        inmates=(ALICE,),
        central=central,
        faults=rng.choice([[], ["ok", "lose_reply"], ["ok", "lose_request"]]),
    )
    buy_and_die(world, rng.uniform(0.0, 1.2))
    restart_and_check(tmp_path, central, 100.0)


def test_killed_after_central_applied_before_the_answer_arrived(tmp_path: Path) -> None:
    central = shared_central()
    world = make_world(tmp_path, inmates=(ALICE,), central=central)
    apply = central.apply

    def apply_then_die(request: PurchaseRequest, *args: str, **kwargs: str) -> PurchaseReply:
        apply(request, *args, **kwargs)
        raise Killed

    central.apply = apply_then_die  # type: ignore[method-assign]
    buy_and_die(world, 2.0)
    central.apply = apply  # type: ignore[method-assign]
    assert KioskLedger(Store(tmp_path / "kiosk.sqlite")).open_keys(), "the purchase should be open at the crash"
    restarted = restart_and_check(tmp_path, central, 100.0)
    assert restarted.client.ledger.entries()[0].status == "applied"


@pytest.mark.parametrize("where", ["open", "settle"])
def test_killed_inside_the_kiosk_ledger_write(tmp_path: Path, where: str) -> None:
    central = shared_central()
    world = make_world(tmp_path, inmates=(ALICE,), central=central)
    ledger = world.client.ledger

    def die_mid_transaction(*args: object, **kwargs: object) -> None:
        with ledger.store.transaction() as db:
            db.execute("UPDATE kiosk_purchases SET reason = 'half written'")
            raise Killed

    setattr(ledger, where, die_mid_transaction)
    buy_and_die(world, 2.0)
    restarted = restart_and_check(tmp_path, central, 100.0)
    # Killed before the commit: nothing was sent, nothing is owed. Killed while settling: central has the answer.
    expected = [] if where == "open" else ["applied"]
    assert [e.status for e in restarted.client.ledger.entries()] == expected
    assert central.balances(ALICE.id)[1] == ALICE.phone_cents + (1000 if expected else 0)


def test_after_a_restart_the_kiosk_still_sells(tmp_path: Path) -> None:
    central = shared_central()
    world = make_world(tmp_path, inmates=(ALICE,), central=central, faults=["ok", "lose_reply"])
    buy_and_die(world, 0.3)
    restarted = restart_and_check(tmp_path, central, 100.0)
    login(restarted)
    restarted.keys("21#")
    restarted.run_for(1)
    assert restarted.screen[0] == "Purchase done"
    assert len({e.key for e in restarted.client.ledger.entries()}) == 2
