"""Device and reference server in one process over a socket pair: what a sync does to both sides' data."""

from __future__ import annotations

import pytest

from firmware.store.cache import CentralCache
from firmware.store.outbox import Outbox
from firmware.sync.channel import ChannelClosed
from firmware.sync.conversation import RemoteError
from firmware.sync.downstream import Downstream, DownstreamError
from firmware.sync.money import Reservations
from firmware.sync.purchases import Purchases
from tests.sync.conftest import (
    DEVICE,
    World,
    charge_proof,
    facility_rules,
    inmate,
    purchase_status,
    request_signed,
    run_session,
    write_facility,
)


def test_new_device_gets_everything_then_only_what_changed(world: World) -> None:
    store = world.store()
    first = run_session(world, store)
    assert first.agree and first.full and first.pulled == 41
    cache = CentralCache(store)
    assert cache.count("inmates") == 20 and cache.get("rules", "facility") == facility_rules()

    central = world.central()
    central.put(
        "inmates",
        "I00003",
        inmate(3, status="restricted", language="es", restriction={"reason": "disciplinary", "until": "2026-12-01"}),
    )
    central.put("inmates", "I00004", None)
    central.close()
    second = run_session(world, store)
    assert second.agree and not second.full and second.pulled == 2
    restricted = cache.get("inmates", "I00003")
    assert restricted is not None and restricted["status"] == "restricted"
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


def charge(outbox: Outbox, call_id: str, account: str, cents: int, device: str = DEVICE) -> str:
    """A charge as the rules write it (firmware/rules/records.py), with the call's proof of PIN."""
    return outbox.append(
        "ledger",
        {
            "id": f"{call_id}:charge",
            "call_id": call_id,
            "account": account,
            "kind": "charge",
            "amount_cents": cents,
            "at": "2026-01-05T10:00:00+00:00",
            **charge_proof(call_id, account, device),
        },
    )


def test_a_charge_is_applied_once_even_when_its_acknowledgement_is_lost(world: World) -> None:
    store = world.store()
    run_session(world, store)
    outbox = Outbox(store)
    charge(outbox, "c1", "debit:I00001", 150)
    outbox.append(
        "ledger",
        {"id": "c1:reserve", "call_id": "c1", "account": "debit:I00001", "kind": "reserve", "amount_cents": 500},
    )
    with pytest.raises(ChannelClosed):
        run_session(world, store, server_cut_after=2)
    run_session(world, store)
    run_session(world, store)
    assert world.central().get("accounts", "debit:I00001") == {"balance_cents": 850}
    assert CentralCache(store).get("accounts", "debit:I00001") == {"balance_cents": 850}


def test_reservations_bound_what_two_offline_devices_can_spend(world: World) -> None:
    other_key = b"\x07" * 32
    central = world.central()
    central.enroll("B-3", other_key)
    a, b = world.store("a"), world.store("b")
    for store, device, key in ((a, DEVICE, world.key), (b, "B-3", other_key)):
        Reservations(store).want("debit:I00002", 700)
        run_session(world, store, device_id=device, key=key)
    assert Reservations(a).get("debit:I00002").granted_cents == 700
    assert Reservations(b).get("debit:I00002").granted_cents == 300
    # Offline, b has used 300 (its whole reservation): it may spend nothing more, though the balance shows 700.
    assert Reservations(b).offline_limit("debit:I00002", balance_cents=700, unsynced_cents=300) == 0
    assert Reservations(b).offline_limit("debit:I00002", balance_cents=1000, unsynced_cents=299) == 1
    assert Reservations(a).offline_limit("debit:I00002", balance_cents=1000, unsynced_cents=0) == 700
    # b's charge arrives: its hold shrinks, and a renewed reservation for a counts the new balance.
    charge(Outbox(b), "c9", "debit:I00002", 300, "B-3")
    run_session(world, b, device_id="B-3", key=other_key)
    run_session(world, a)
    assert world.central().get("accounts", "debit:I00002") == {"balance_cents": 700}
    assert Reservations(a).get("debit:I00002").granted_cents == 700


def test_purchase_is_applied_once_whatever_the_resends(world: World) -> None:
    store = world.store()
    purchases = Purchases(store)
    with store.transaction() as db:
        key = request_signed(purchases, db, "I00005", 1200)
    assert purchase_status(purchases, key).status == "unsent"
    # Server messages: welcome, changes, purchase_result -> cut before the result leaves.
    with pytest.raises(ChannelClosed):
        run_session(world, store, server_cut_after=2)
    assert purchase_status(purchases, key).status == "unknown"
    assert world.central().purchase_result(key).status == "applied"
    with store.transaction() as db:
        poor = request_signed(purchases, db, "I00006", 9000)
        nobody = request_signed(purchases, db, "nobody", 100)
    report = run_session(world, store)
    assert report.agree
    applied, rejected = purchase_status(purchases, key), purchase_status(purchases, poor)
    assert applied.status == "applied" and applied.balance_cents == 2200
    assert (rejected.status, rejected.reason) == ("rejected", "insufficient_funds")
    assert purchase_status(purchases, nobody).reason == "no_pin_proof_key", "no roster entry: nothing to prove"
    assert world.central().db.execute("SELECT cents FROM trust WHERE account = 'I00005'").fetchone()[0] == 3800
    assert CentralCache(store).get("accounts", "debit:I00005") == {"balance_cents": 2200}


def test_purchase_exactly_at_the_trust_balance_is_applied_one_cent_more_is_not(world: World) -> None:
    store = world.store()
    purchases = Purchases(store)
    with store.transaction() as db:
        exact = request_signed(purchases, db, "I00007", 5000)
        over = request_signed(purchases, db, "I00008", 5001)
    run_session(world, store)
    assert purchase_status(purchases, exact).status == "applied"
    assert purchase_status(purchases, over).status == "rejected"


def test_a_block_made_at_one_device_reaches_the_others(world: World) -> None:
    a, b = world.store("a"), world.store("b")
    Outbox(a).append("block", {"number": "3055550123", "at": "2026-01-05T10:00:00+00:00", "source": "called_party"})
    run_session(world, a)
    run_session(world, b)
    assert CentralCache(b).get("blocks", "3055550123") == {
        "created_at": "2026-01-05T10:00:00+00:00",
        "source": "called_party",
    }


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
        CentralCache(store).put(db, "inmates", "I00009", inmate(9, name="Tampered"), 1)
    report = run_session(world, store, verify=True)
    assert report.agree and report.full
    assert CentralCache(store).get("inmates", "I00009") == inmate(9)


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
    central.put("inmates", "I00001", inmate(1, language="es"))
    central.put("inmates", "I00002", None)
    central.load_dir(write_facility(world.tmp / "facility2", inmates=25))
    run_session(world, store)
    assert central.digest()[1] == central.full_digest()
    downstream = Downstream(store)
    assert downstream.digest() == downstream.full_digest() == central.full_digest()


def test_a_value_the_rules_refuse_stops_the_pull_and_leaves_the_cache_as_it_was(world: World) -> None:
    store = world.store()
    run_session(world, store)
    central = world.central()
    central.put("inmates", "I00004", {"name": "no verifier"})
    with pytest.raises(DownstreamError, match=r"inmates/I00004: .*pin_verifier"):
        run_session(world, store)
    assert CentralCache(store).get("inmates", "I00004") == inmate(4)
    central.put("inmates", "I00004", inmate(4, housing_unit="B"))
    assert run_session(world, store).agree


def test_a_device_behind_the_tombstone_horizon_resyncs_in_full_and_loses_the_deleted_rows(world: World) -> None:
    store = world.store()
    run_session(world, store)
    central = world.central()
    central.put("inmates", "I00011", None)
    central.put("inmates", "I00012", inmate(12, language="es"))
    assert central.compact(keep=1) == 1
    report = run_session(world, store)
    assert report.agree and report.full
    assert CentralCache(store).get("inmates", "I00011") is None
    assert central.compact(keep=1) == 0


def test_a_device_just_inside_the_horizon_still_syncs_incrementally(world: World) -> None:
    store = world.store()
    run_session(world, store)
    central = world.central()
    central.put("inmates", "I00011", None)
    assert central.compact(keep=1) == 0
    report = run_session(world, store)
    assert report.agree and not report.full and report.received == 1
    assert CentralCache(store).get("inmates", "I00011") is None


def test_an_interrupted_session_never_sends_again_what_the_server_acknowledged(world: World) -> None:
    store = world.store()
    run_session(world, store)
    outbox = Outbox(store)
    charged = charge(outbox, "c9", "debit:I00002", 100)
    for i in range(399):
        outbox.append("call", {"dialed": "3055550100", "seconds": i})
    # Server messages: welcome, changes, push_ack of the first 200 -> cut before the second push_ack.
    with pytest.raises(ChannelClosed):
        run_session(world, store, server_cut_after=3)
    assert outbox.count_pending() == 200, "the first batch is delivered for good"
    state = "SELECT delivered_at IS NOT NULL, acked_at IS NOT NULL FROM outbox WHERE id = ?"
    # Delivered, but not acknowledged: the rules still count the charge against the balance the cache shows.
    assert tuple(store.db.execute(state, (charged,)).fetchone()) == (1, 0)
    report = run_session(world, store)
    assert report.agree and report.pushed == 200
    assert outbox.count_pending() == 0 and world.central().received_count(DEVICE) == 400
    assert tuple(store.db.execute(state, (charged,)).fetchone()) == (1, 1)
    assert CentralCache(store).get("accounts", "debit:I00002") == {"balance_cents": 900}


def test_a_link_that_breaks_after_every_batch_still_gets_the_whole_backlog_through(world: World) -> None:
    store = world.store()
    run_session(world, store)
    outbox = Outbox(store)
    for i in range(1000):
        outbox.append("call", {"dialed": "3055550100", "seconds": i})
    sessions = 0
    while outbox.count_pending() and sessions < 10:
        sessions += 1
        with pytest.raises(ChannelClosed):
            run_session(world, store, server_cut_after=3)  # one push_ack per session, then the link drops
    assert sessions == 5 and run_session(world, store).agree
    assert world.central().received_count(DEVICE) == 1000
