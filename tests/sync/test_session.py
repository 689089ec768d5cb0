"""Device and reference server in one process over a socket pair: what a sync does to both sides' data."""

from __future__ import annotations

import pytest

from firmware.store.cache import CentralCache
from firmware.store.outbox import Outbox
from firmware.sync.channel import ChannelClosed
from firmware.sync.conversation import RemoteError
from firmware.sync.downstream import Downstream
from firmware.sync.money import Wallet
from firmware.sync.purchases import Purchases
from tests.sync.conftest import DEVICE, World, run_session, write_facility


def test_new_device_gets_everything_then_only_what_changed(world: World) -> None:
    store = world.store()
    first = run_session(world, store)
    assert first.agree and first.full and first.pulled == 41
    cache = CentralCache(store)
    assert cache.count("inmates") == 20 and cache.get("rules", "facility") == {"max_call_minutes": 15}

    central = world.central()
    central.put("inmates", "I00003", {"status": "restricted", "language": "es", "until": "2026-12-01"})
    central.put("inmates", "I00004", None)
    central.close()
    second = run_session(world, store)
    assert second.agree and not second.full and second.pulled == 2
    assert cache.get("inmates", "I00003")["status"] == "restricted"
    assert cache.get("inmates", "I00004") is None and cache.count("inmates") == 19


def test_nothing_changed_costs_almost_nothing(world: World) -> None:
    store = world.store()
    run_session(world, store)
    again = run_session(world, store)
    assert again.agree and again.pulled == 0
    assert again.bytes_written + again.bytes_read < 700


def test_outbox_arrives_once_even_when_the_acknowledgement_is_lost(world: World) -> None:
    store = world.store()
    outbox = Outbox(store)
    ids = [outbox.append("call", {"dialed": f"30555501{i:02d}", "seconds": i}) for i in range(3)]
    # Server messages: welcome, changes, push_ack -> cut before the push_ack leaves.
    with pytest.raises(ChannelClosed):
        run_session(world, store, server_cut_after=2)
    assert outbox.count_pending() == 3
    central = world.central()
    assert central.received_count(DEVICE) == 3
    report = run_session(world, store)
    assert report.agree and outbox.count_pending() == 0
    assert central.received_count(DEVICE) == 3
    stored = {row[0] for row in central.db.execute("SELECT id FROM received")}
    assert stored == set(ids)


def test_a_charge_is_applied_once_and_the_device_shows_server_balance_minus_unsynced(world: World) -> None:
    store = world.store()
    run_session(world, store)
    wallet = Wallet(store)
    with store.transaction() as db:
        wallet.charge(db, "I00001", 150, call="c1")
    assert wallet.server_balance("I00001") == 1000 and wallet.balance("I00001") == 850
    with pytest.raises(ChannelClosed):
        run_session(world, store, server_cut_after=2)
    run_session(world, store)
    run_session(world, store)
    assert wallet.server_balance("I00001") == 850 and wallet.balance("I00001") == 850
    assert world.central().get("accounts", "I00001")["balance_cents"] == 850


def test_reservations_bound_what_two_offline_devices_can_spend(world: World) -> None:
    other_key = b"\x07" * 32
    central = world.central()
    central.enroll("B-3", other_key)
    a, b = world.store("a"), world.store("b")
    for store, device, key in ((a, DEVICE, world.key), (b, "B-3", other_key)):
        Wallet(store).want_reservation("I00002", 700)
        run_session(world, store, device_id=device, key=key)
    granted_a = Wallet(a).reservation("I00002").granted_cents
    granted_b = Wallet(b).reservation("I00002").granted_cents
    assert (granted_a, granted_b) == (700, 300)
    assert Wallet(a).spendable("I00002", online=False) == 700
    assert Wallet(b).spendable("I00002", online=False) == 300
    with b.transaction() as db:
        Wallet(b).charge(db, "I00002", 300)
    assert Wallet(b).spendable("I00002", online=False) == 0
    assert Wallet(b).spendable("I00002", online=True) == 700


def test_purchase_is_applied_once_whatever_the_resends(world: World) -> None:
    store = world.store()
    purchases = Purchases(store)
    with store.transaction() as db:
        key = purchases.request(db, "I00005", 1200)
    assert purchases.status(key).status == "unsent"
    # Server messages: welcome, changes, purchase_result -> cut before the result leaves.
    with pytest.raises(ChannelClosed):
        run_session(world, store, server_cut_after=2)
    assert purchases.status(key).status == "unknown"
    assert world.central().purchase_result(key).status == "applied"
    with store.transaction() as db:
        poor = purchases.request(db, "I00006", 9000)
        nobody = purchases.request(db, "nobody", 100)
    report = run_session(world, store)
    assert report.agree
    assert purchases.status(key).status == "applied" and purchases.status(key).balance_cents == 2200
    assert (purchases.status(poor).status, purchases.status(poor).reason) == ("rejected", "insufficient_funds")
    assert purchases.status(nobody).reason == "unknown_account"
    account = world.central().get("accounts", "I00005")
    assert account == {"balance_cents": 2200, "trust_cents": 3800}
    assert CentralCache(store).get("accounts", "I00005") == account


def test_purchase_exactly_at_the_trust_balance_is_applied_one_cent_more_is_not(world: World) -> None:
    store = world.store()
    purchases = Purchases(store)
    with store.transaction() as db:
        exact = purchases.request(db, "I00007", 5000)
        over = purchases.request(db, "I00008", 5001)
    run_session(world, store)
    assert purchases.status(exact).status == "applied"
    assert purchases.status(over).status == "rejected"


def test_a_block_made_at_one_device_reaches_the_others(world: World) -> None:
    a, b = world.store("a"), world.store("b")
    Outbox(a).append("block", {"number": "3055550123", "by": "called party"})
    run_session(world, a)
    run_session(world, b)
    assert CentralCache(b).get("blocks", "3055550123")["source_device"] == DEVICE


def test_a_wrong_key_is_refused_and_nothing_changes(world: World) -> None:
    store = world.store()
    Outbox(store).append("call", {"x": 1})
    with pytest.raises(Exception) as caught:
        run_session(world, store, key=b"\x01" * 32)
    assert "authentication" in str(caught.value) or isinstance(caught.value, (RemoteError, ChannelClosed))
    assert world.central().received_count(DEVICE) == 0
    assert CentralCache(store).count("inmates") == 0


def test_an_unknown_device_is_told_so(world: World) -> None:
    with pytest.raises(RemoteError) as caught:
        run_session(world, world.store(), device_id="nobody")
    assert caught.value.code == "unknown_device"


def test_a_pull_cut_half_way_resumes_after_its_last_page(world: World) -> None:
    store = world.store()
    # Pages of 10 items: welcome + 2 pages reach the device, then the link is cut.
    with pytest.raises(ChannelClosed):
        run_session(world, store, server_cut_after=3, max_items=10)
    assert CentralCache(store).count("inmates") == 0
    report = run_session(world, store, max_items=10)
    assert report.agree and report.received == 21 and report.pulled == 41


def test_a_cache_that_drifted_is_repaired_by_a_full_resync(world: World) -> None:
    store = world.store()
    run_session(world, store)
    with store.transaction() as db:
        CentralCache(store).put(db, "inmates", "I00009", {"status": "tampered"}, 1)
    report = run_session(world, store, verify=True)
    assert report.agree and report.full
    assert CentralCache(store).get("inmates", "I00009") == {"status": "active", "language": "en"}


def test_loading_a_changed_facility_changes_only_what_differs(world: World) -> None:
    central = world.central()
    head = central.head()
    changes = central.load_dir(write_facility(world.tmp / "facility2", inmates=21))
    assert changes == {"inmates": 1, "accounts": 1, "rules": 0}
    assert central.head() == head + 2


def test_the_kept_digests_equal_digests_computed_from_every_row(world: World) -> None:
    store = world.store()
    central = world.central()
    run_session(world, store)
    central.put("inmates", "I00001", {"status": "released"})
    central.put("inmates", "I00002", None)
    central.load_dir(write_facility(world.tmp / "facility2", inmates=25))
    run_session(world, store)
    assert central.digest()[1] == central.full_digest()
    downstream = Downstream(store)
    assert downstream.digest() == downstream.full_digest() == central.full_digest()
