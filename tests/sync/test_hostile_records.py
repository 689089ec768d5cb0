"""A device that sends wrong values cannot move money, stop a port or keep a session failing.

Each record is judged on its own: a refused one is recorded with its reason, sent back as a per-record error and
acknowledged, so the device stops sending it; the rest of its push and its session go on.
"""

from __future__ import annotations

import json
import threading

import pytest

from firmware.store import Store
from firmware.store.cache import CentralCache
from firmware.store.outbox import Outbox
from firmware.sync.channel import SerialChannel
from firmware.sync.conversation import RemoteError, open_as_device
from firmware.sync.device_session import DeviceSync
from firmware.sync.purchases import Purchases
from firmware.sync.schema import Body, Done, OutboxRecord, Pull
from hal.link import open_link
from sim.central.server import CentralServer, ServerConfig, serve_channel
from sim.central.validation import MAX_CENTS, check_record
from sim.serial_cable import SerialCable
from tests.sync.conftest import DEVICE, World, channel_pair, purchase_status, run_session, signed_charge

CHARGE = {"call_id": "c1", "account": "debit:I00001", "kind": "charge", "at": "2026-01-05T10:00:00+00:00"}


def report(detail: dict[str, object], **envelope: str) -> dict[str, object]:
    """A call-flow report as a device's outbox holds it, around `detail`."""
    return {"id": "a1", "at": "t", "device_id": "d", **envelope, "detail": detail}


def raw_outbox(store: Store, item_id: str, kind: str, payload: str) -> None:
    """Put a record in the outbox exactly as given (a tampered device's outbox)."""
    Outbox(store)
    with store.transaction() as db:
        db.execute(
            "INSERT INTO outbox (id, kind, created_at, payload) VALUES (?, ?, ?, ?)",
            (item_id, kind, "2026-01-05T10:00:00+00:00", payload),
        )


def test_a_negative_charge_is_refused_and_credits_nothing(world: World) -> None:
    store = world.store()
    run_session(world, store)
    outbox = Outbox(store)
    outbox.append("ledger", {**CHARGE, "amount_cents": -100000})
    outbox.append("ledger", signed_charge({**CHARGE, "call_id": "c2", "amount_cents": 150}))
    report = run_session(world, store)
    central = world.central()
    assert central.get("accounts", "debit:I00001") == {"balance_cents": 850}
    assert central.refused_count(DEVICE) == 1 and central.received_count(DEVICE) == 1
    assert any("amount_cents" in note and "greater than or equal to 0" in note for note in report.notes)
    assert report.agree and outbox.count_pending() == 0, "a refused record is never sent again"
    assert CentralCache(store).get("accounts", "debit:I00001") == {"balance_cents": 850}


@pytest.mark.parametrize(
    ("kind", "payload", "reason"),
    [
        ("ledger", {**CHARGE, "amount_cents": "abc"}, "amount_cents"),
        ("ledger", {**CHARGE, "amount_cents": 2**70}, "amount_cents"),
        ("ledger", {**CHARGE, "amount_cents": MAX_CENTS + 1}, "amount_cents"),
        ("ledger", {**CHARGE, "amount_cents": True}, "amount_cents"),
        ("ledger", {**CHARGE, "amount_cents": 1.5}, "amount_cents"),
        ("ledger", {**CHARGE, "amount_cents": 5, "account": "debit:I00001\n"}, "account"),
        ("ledger", {**CHARGE, "amount_cents": 5, "account": ["debit:I00001"]}, "account"),
        ("ledger", {**CHARGE, "amount_cents": 5, "kind": "refund"}, "kind"),
        ("block", {"number": "../../etc", "at": "x"}, "number"),
        ("block", {"number": 3055550100}, "number"),
        ("spend_it_all", {"x": 1}, "is not a record kind"),
        ("attempt", report({"reason": "rm -rf"}, inmate_id="I1"), "attempt.detail.reason"),
        ("line_incoming", report({"caller": "1", "state": ""}), "line_incoming.detail.state"),
        ("line_media", report({"call_id": "c1", "late_dropped": -3}), "line_media.detail.late_dropped"),
        ("line_media", report({"call_id": "c1", "frames_in": "9"}), "line_media.detail.frames_in"),
        ("line_media", report({"call_id": "c1", "rm -rf": 1}), "line_media.detail.rm -rf"),
        ("line_media", report({"call_id": "c1", "source_changes": -1}), "line_media.detail.source_changes"),
        ("far_end_silent", report({"call_id": "c1", "silent_s": -1.0}), "far_end_silent.detail.silent_s"),
        ("far_end_silent", report({"call_id": "c1", "silent_s": "8"}), "far_end_silent.detail.silent_s"),
        ("far_end_silent", report({"call_id": "c1", "silent_s": 2.0, "rm -rf": 1}), "far_end_silent.detail.rm -rf"),
        ("call", [1, 2], "not a JSON object"),
    ],
)
def test_each_wrong_value_is_refused_by_name(kind: str, payload: object, reason: str) -> None:
    record = OutboxRecord(id="a" * 32, kind=kind, created_at="t", payload=json.dumps(payload))
    with pytest.raises(ValueError, match=reason):
        check_record(record)


@pytest.mark.parametrize("item_id", [".", "..", "a\n", "a/b", "-x", "", "x" * 65, "a b"])
def test_ids_must_match_the_whole_pattern(item_id: str) -> None:
    record = OutboxRecord.model_construct(id=item_id, kind="call", created_at="t", payload="{}")
    with pytest.raises(ValueError, match="id"):
        check_record(record)


def test_bad_records_in_one_push_leave_the_good_ones_and_the_session_standing(world: World) -> None:
    store = world.store()
    run_session(world, store)
    raw_outbox(store, "bad1", "ledger", json.dumps({**CHARGE, "amount_cents": "abc"}))
    raw_outbox(store, "bad-2\n", "call", "{}")
    raw_outbox(store, "bad3", "ledger", json.dumps({**CHARGE, "amount_cents": 2**80}))
    good = Outbox(store).append("call", {"dialed": "3055550100", "seconds": 3})
    report = run_session(world, store)
    assert report.agree and Outbox(store).count_pending() == 0
    central = world.central()
    assert [row[0] for row in central.db.execute("SELECT id FROM received")] == [good]
    reasons = dict(central.db.execute("SELECT id, reason FROM refused"))
    assert set(reasons) == {"bad1", "bad-2\n", "bad3"}
    assert "amount_cents" in reasons["bad1"] and "id" in reasons["bad-2\n"]
    assert central.get("accounts", "debit:I00001") == {"balance_cents": 1000}
    again = run_session(world, store)
    assert again.agree and again.pushed == 0 and central.refused_count(DEVICE) == 3


def test_out_of_range_purchases_are_answered_and_never_stored(world: World) -> None:
    store = world.store()
    purchases = Purchases(store)
    with store.transaction() as db:
        negative = purchases.request(db, "I00001", -500)
        huge = purchases.request(db, "I00001", MAX_CENTS + 1)
        bad_account = purchases.request(db, "I00001\n", 100)
    report = run_session(world, store)
    assert report.agree
    assert purchase_status(purchases, negative).reason == "amount_not_positive"
    assert purchase_status(purchases, huge).reason == "amount_too_large"
    assert purchase_status(purchases, bad_account).reason == "invalid_account"
    assert world.central().get("accounts", "debit:I00001") == {"balance_cents": 1000}
    assert world.central().purchase_result(huge).status == "unknown"


@pytest.mark.parametrize(
    "body",
    [
        Pull.model_construct(since=0, after=2**63, upto=0, max_items=10),
        Done.model_construct(cursor=2**63, digest=bytes(32), pending=0),
    ],
    ids=["pull", "done"],
)
def test_numbers_beyond_64_bits_are_malformed_and_end_only_that_session(world: World, body: Body) -> None:
    device_side, server_side = channel_pair()
    server = threading.Thread(target=serve_channel, args=(server_side, world.config()), daemon=True)
    server.start()
    conv, _welcome = open_as_device(device_side, DEVICE, world.key, 5.0)
    conv.send(body)
    with pytest.raises(RemoteError) as refused:
        conv.recv(5.0)
    assert refused.value.code == "malformed"
    server.join(10)
    assert not server.is_alive()
    device_side.close()
    server_side.close()
    assert run_session(world, world.store()).agree


def test_a_bad_record_over_serial_never_stops_the_port(world: World) -> None:
    cable = SerialCable(None)
    server = CentralServer(ServerConfig(world.db_path, idle_timeout=5.0), None)
    server.start([cable.end_b])
    store = world.store()
    try:
        for payload in ({**CHARGE, "amount_cents": "abc"}, {**CHARGE, "amount_cents": -100000}):
            raw_outbox(store, f"r{len(payload)}{payload['amount_cents']!s:.3}", "ledger", json.dumps(payload))
            channel = SerialChannel(open_link(cable.end_a), initiator=True)
            try:
                assert channel.wait_connected(5)
                report = DeviceSync(store, DEVICE, world.key, timeout=5.0).run(channel)
            finally:
                channel.close()
            assert report.agree
        assert all(thread.is_alive() for thread in server._threads)
        assert world.central().refused_count(DEVICE) == 2
        assert world.central().get("accounts", "debit:I00001") == {"balance_cents": 1000}
    finally:
        server.stop.set()
        cable.close()
