"""Two handsets on one account at once cannot overdraw it: each call first takes a hold at the central server.

The attack (the security audit's probe): an inmate's debit balance of $1.00, two synced handsets, a call started
on each at the same moment. Before holds, each handset allowed a call reserving 96 cents on its cached balance and
the server's balance went to -92 cents.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from firmware.handset import messages as m
from firmware.handset.recorder import Recorder
from firmware.handset.services import CallServices
from firmware.rules.authorize import Grant, Refusal
from firmware.rules.facility import FacilityRules
from firmware.rules.service import CallRules
from firmware.runtime import Runtime
from firmware.sync.holds import CentralHolds, take_hold
from hal.clock import VirtualClock
from hal.events import Event
from sim.central.db import CentralDB
from sim.central.server import serve_channel
from tests.rules.conftest import local, make_rules
from tests.sync.conftest import World, channel_pair, proof_key, run_session, write_facility

ACCOUNT = "debit:I00001"
INMATE = "I00001"
NUMBER = "3125550100"
NOW = local(2026, 11, 24, 15, 0)
PHONES = ("h1", "h2")


@pytest.fixture
def hundred(tmp_path: Path) -> tuple[World, dict[str, bytes]]:
    """A central server where I00001 has 100 cents, and two enrolled handsets."""
    keys = {phone: os.urandom(32) for phone in PHONES}
    db = CentralDB(tmp_path / "central.sqlite")
    for phone, key in keys.items():
        db.enroll(phone, key)
    db.load_dir(write_facility(tmp_path / "facility", balance=100))
    db.close()
    return World(tmp_path, tmp_path / "central.sqlite", keys["h1"]), keys


def handset(world: World, keys: dict[str, bytes], phone: str, rules: FacilityRules | None = None) -> CallRules:
    store = world.store(phone)
    assert run_session(world, store, device_id=phone, key=keys[phone]).agree
    return CallRules(store, rules or make_rules(), phone, "B")


def hold(world: World, keys: dict[str, bytes], phone: str, cents: int, ttl_s: int) -> int:
    """Ask the server for a hold over a real session, as the sync thread does."""
    device_side, server_side = channel_pair()
    server = threading.Thread(target=serve_channel, args=(server_side, world.config()), daemon=True)
    server.start()
    store = world.store(phone)
    try:
        return take_hold(device_side, store, phone, keys[phone], ACCOUNT, cents, ttl_s, 5.0)
    finally:
        store.close()
        device_side.close()
        server.join(10)
        server_side.close()


def a_minute_later(world: World, phone: str) -> None:
    """The device's holds were granted more than HOLD_CLAIM_S ago: a session may now release them."""
    store = world.store(phone)
    try:
        with store.transaction() as db:
            db.execute("UPDATE sync_reservations SET granted_at = '2000-01-01T00:00:00.000+00:00'")
    finally:
        store.close()


def server_balance(world: World) -> int:
    central = world.central()
    try:
        account = central.get("accounts", ACCOUNT)
        assert isinstance(account, dict)
        return int(account["balance_cents"])
    finally:
        central.close()


def held_at_server(world: World, phone: str) -> int:
    central = world.central()
    try:
        row = central.db.execute(
            "SELECT held_cents FROM reservations WHERE device_id = ? AND account = ?", (phone, ACCOUNT)
        ).fetchone()
        return 0 if row is None else int(row[0])
    finally:
        central.close()


def test_two_handsets_calling_at_once_on_one_account_never_take_the_server_below_zero(
    hundred: tuple[World, dict[str, bytes]],
) -> None:
    world, keys = hundred
    phones = {phone: handset(world, keys, phone) for phone in PHONES}
    for rules in phones.values():  # the hole: on cached balances alone, each handset would allow 96 cents
        alone = rules.check(INMATE, NUMBER, "debit", NOW)
        assert isinstance(alone, Grant) and alone.reservation_cents == 96
    requests = {phone: rules.hold_request(INMATE, NUMBER, "debit", NOW) for phone, rules in phones.items()}
    for request in requests.values():
        assert request is not None and request.account == ACCOUNT and request.cents == 96

    start = threading.Barrier(len(PHONES))
    granted: dict[str, int] = {}

    def ask(phone: str) -> None:
        request = requests[phone]
        assert request is not None
        start.wait()
        granted[phone] = hold(world, keys, phone, request.cents, request.ttl_s)

    askers = [threading.Thread(target=ask, args=(phone,)) for phone in PHONES]
    for asker in askers:
        asker.start()
    for asker in askers:
        asker.join(30)
    assert sorted(granted.values()) == [4, 96], "the server never grants the same money twice"

    calls = {}
    for phone, rules in phones.items():
        decision = rules.check(INMATE, NUMBER, "debit", NOW, held_cents=granted[phone])
        if granted[phone] == 4:
            assert isinstance(decision, Refusal) and decision.reason == "refuse.insufficient_funds"
            continue
        assert isinstance(decision, Grant) and decision.reservation_cents <= granted[phone]
        calls[phone] = rules.open_call(INMATE, decision, NOW, proof=proof_key(1))  # the inmate's PIN, typed
        rules.connected(calls[phone], NOW)
    assert len(calls) == 1
    for phone, call_id in calls.items():
        phones[phone].close_call(call_id, NOW + timedelta(seconds=720), "hangup", 720)
    for phone in PHONES:
        a_minute_later(world, phone)
        run_session(world, world.store(phone), device_id=phone, key=keys[phone])
    assert server_balance(world) == 4
    assert held_at_server(world, "h1") == held_at_server(world, "h2") == 0


def test_a_grant_bounds_the_call_even_when_the_cached_balance_says_more(
    hundred: tuple[World, dict[str, bytes]],
) -> None:
    world, keys = hundred
    rules = handset(world, keys, "h1")
    decision = rules.check(INMATE, NUMBER, "debit", NOW, held_cents=40)
    assert isinstance(decision, Grant)
    assert decision.reservation_cents <= 40 and decision.limited_by == "funds"
    assert decision.max_duration_s == 300  # 8 cents a minute in the demo rules: 5 whole minutes for 40 cents


def test_a_hold_never_settled_lapses_and_its_money_returns(hundred: tuple[World, dict[str, bytes]]) -> None:
    world, _keys = hundred
    central = world.central()
    t0 = datetime(2026, 11, 24, 21, 0, tzinfo=UTC)
    try:
        assert central.reserve("h1", ACCOUNT, 96, ttl_s=900, at=t0)[1] == 96
        assert central.reserve("h2", ACCOUNT, 96, ttl_s=900, at=t0 + timedelta(seconds=899))[1] == 4
        assert central.reserve("h2", ACCOUNT, 96, ttl_s=900, at=t0 + timedelta(seconds=900))[1] == 96
    finally:
        central.close()


def test_a_call_shorter_than_granted_charges_what_it_used_and_the_rest_goes_back(
    hundred: tuple[World, dict[str, bytes]],
) -> None:
    world, keys = hundred
    h1 = handset(world, keys, "h1")
    request = h1.hold_request(INMATE, NUMBER, "debit", NOW)
    assert request is not None
    granted = hold(world, keys, "h1", request.cents, request.ttl_s)
    assert granted == 96 and held_at_server(world, "h1") == 96
    assert run_session(world, world.store("h1"), device_id="h1", key=keys["h1"]).agree
    assert held_at_server(world, "h1") == 96, "a session between the grant and the call's opening keeps the hold"
    decision = h1.check(INMATE, NUMBER, "debit", NOW, held_cents=granted)
    assert isinstance(decision, Grant)
    call_id = h1.open_call(INMATE, decision, NOW, proof=proof_key(1))
    h1.connected(call_id, NOW)
    a_minute_later(world, "h1")
    assert run_session(world, world.store("h1"), device_id="h1", key=keys["h1"]).agree
    assert held_at_server(world, "h1") == 96, "a session during the call keeps the call's hold"
    record = h1.close_call(call_id, NOW + timedelta(seconds=150), "hangup", 150)
    assert record.charge_cents == 24  # 3 minutes begun, 8 cents each
    assert run_session(world, world.store("h1"), device_id="h1", key=keys["h1"]).agree
    assert server_balance(world) == 76
    assert held_at_server(world, "h1") == 0
    assert hold(world, keys, "h2", 100, 1620) == 76, "another handset can hold all that is left"


def test_without_the_server_the_offline_cap_bounds_the_call_and_refuses_past_it(
    hundred: tuple[World, dict[str, bytes]],
) -> None:
    world, keys = hundred
    capped = make_rules(offline={"max_unsynced_spend_per_account": "0.40"})
    h1 = handset(world, keys, "h1", capped)
    first = h1.check(INMATE, NUMBER, "debit", NOW)  # no answer from the server: no held_cents
    assert isinstance(first, Grant) and first.limited_by == "offline_limit" and first.reservation_cents == 40
    call_id = h1.open_call(INMATE, first, NOW)
    h1.connected(call_id, NOW)
    h1.close_call(call_id, NOW + timedelta(seconds=290), "hangup", 290)
    second = h1.check(INMATE, NUMBER, "debit", NOW + timedelta(minutes=10))
    assert isinstance(second, Refusal) and second.reason == "refuse.offline_limit"


def test_an_unreachable_server_is_an_answer_of_none_said_in_one_line(tmp_path: Path) -> None:
    lines: list[str] = []
    holds = CentralHolds("tcp://127.0.0.1:9", tmp_path / "device.sqlite", 115200, 1.0, lines.append)
    assert holds.hold(ACCOUNT, 96, 1620) is None
    assert len(lines) == 1 and lines[0].startswith(f"hold on {ACCOUNT}: tcp://127.0.0.1:9: ")


class Answers:
    """A machine that keeps what the runtime gives it."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def handle(self, event: Event) -> list:
        self.events.append(event)
        return []


def services(rules: CallRules, tmp_path: Path, ask_holds: bool) -> tuple[CallServices, Runtime, Answers]:
    answers = Answers()
    runtime = Runtime(VirtualClock(), [answers])
    return CallServices(rules, runtime, lambda _t: NOW, Recorder(tmp_path / "rec"), ask_holds), runtime, answers


def test_the_handsets_check_asks_for_a_hold_first_and_opens_nothing_until_answered(
    hundred: tuple[World, dict[str, bytes]], tmp_path: Path
) -> None:
    world, keys = hundred
    rules = handset(world, keys, "h1")
    calls, runtime, answers = services(rules, tmp_path, ask_holds=True)
    calls.check_call(m.CheckCall(INMATE, NUMBER, "debit"))
    runtime.drain()
    assert answers.events == [m.HoldNeeded(0.0, ACCOUNT, 96, 720 + 900)]
    assert rules.records.calls.open_calls() == []
    calls.check_call(m.CheckCall(INMATE, NUMBER, "debit", hold="granted", held_cents=4))
    runtime.drain()
    refused = answers.events[-1]
    assert isinstance(refused, m.CallChecked) and not refused.allowed
    assert refused.reason == "refuse.insufficient_funds" and rules.records.calls.open_calls() == []
    calls.check_call(m.CheckCall(INMATE, NUMBER, "debit", hold="granted", held_cents=40))
    runtime.drain()
    allowed = answers.events[-1]
    assert isinstance(allowed, m.CallChecked) and allowed.allowed and allowed.limit_s == 300
    assert rules.records.calls.open_calls() == [allowed.call_id]


def test_a_collect_call_or_a_handset_without_a_server_asks_for_no_hold(
    hundred: tuple[World, dict[str, bytes]], tmp_path: Path
) -> None:
    world, keys = hundred
    rules = handset(world, keys, "h1")
    calls, runtime, answers = services(rules, tmp_path, ask_holds=False)
    calls.check_call(m.CheckCall(INMATE, NUMBER, "debit"))
    runtime.drain()
    checked = answers.events[-1]
    assert isinstance(checked, m.CallChecked) and checked.allowed and checked.limit_s == 720
    assert rules.hold_request(INMATE, NUMBER, "collect", NOW) is None
