"""Records through CallRules: each written with its outbox item in one transaction, once, and counted right."""

from __future__ import annotations

from datetime import timedelta

import pytest

from firmware.rules.authorize import Grant, Refusal
from firmware.rules.service import CallRules
from firmware.store import Store
from firmware.store.cache import CentralCache
from firmware.store.outbox import Outbox
from tests.rules.conftest import call_rules, inmate, local, make_rules, seed

NOW = local(2026, 11, 24, 15, 0)
NUMBER = "5735551234"


def setup(store: Store, balance: int = 500, **rules_changes: object) -> CallRules:
    seed(
        store,
        {
            "inmates": {"I1": inmate("1234")},
            "accounts": {"debit:I1": {"balance_cents": balance}},
            "numbers": {
                NUMBER: {"line_type": "landline", "collect_billable": True},
                "5735550000": {"line_type": "mobile", "collect_billable": False},
            },
        },
    )
    return call_rules(store, make_rules(**rules_changes) if rules_changes else None)


def grant(rules: CallRules, number: str = NUMBER, call_type: str = "debit", now=NOW) -> Grant:
    result = rules.check("I1", number, call_type, now)  # type: ignore[arg-type]
    assert isinstance(result, Grant), result
    return result


def outbox(store: Store) -> list[tuple[str, dict]]:
    return [(item.kind, item.payload) for item in Outbox(store).pending()]


def talk(
    rules: CallRules,
    seconds: float,
    now=NOW,
    number: str = NUMBER,
    call_type: str = "debit",
    reason="hang_up",
):
    g = grant(rules, number, call_type, now)
    call_id = rules.open_call("I1", g, now)
    rules.connected(call_id, now + timedelta(seconds=20))
    return rules.close_call(call_id, now + timedelta(seconds=20 + seconds), reason, connected_s=seconds)


def test_a_debit_call_reserves_charges_and_releases(store: Store) -> None:
    rules = setup(store)
    g = grant(rules)
    call_id = rules.open_call("I1", g, NOW)
    assert rules.balance_cents("debit", "I1") == 500 - 160
    assert [(k, p["kind"], p["amount_cents"]) for k, p in outbox(store)] == [("ledger", "reserve", 160)]
    rules.connected(call_id, NOW + timedelta(seconds=20))
    record = rules.close_call(
        call_id, NOW + timedelta(seconds=145), "hang_up", connected_s=125, recording_ref="rec/1.opus"
    )
    assert (record.billed_minutes, record.charge_cents, record.end_reason) == (3, 24, "hang_up")
    assert record.recording_ref == "rec/1.opus" and record.connected_s == 125
    assert rules.balance_cents("debit", "I1") == 476
    assert [k if k == "cdr" else p["kind"] for k, p in outbox(store)] == [
        "reserve",
        "cdr",
        "charge",
        "release",
    ]
    cdr = next(p for k, p in outbox(store) if k == "cdr")
    assert cdr["call_id"] == call_id and cdr["device_id"] == "handset-1" and cdr["inmate_id"] == "I1"


def test_balance_is_cached_server_balance_minus_unacknowledged_charges(store: Store) -> None:
    rules = setup(store)
    talk(rules, 125)
    assert rules.balance_cents("debit", "I1") == 476
    box = Outbox(store)
    box.acknowledge(item.id for item in box.pending())
    assert rules.balance_cents("debit", "I1") == 500  # until sync brings the server's new balance
    seed(store, {"accounts": {"debit:I1": {"balance_cents": 476}}})
    assert rules.balance_cents("debit", "I1") == 476


def test_closing_twice_charges_once(store: Store) -> None:
    rules = setup(store)
    g = grant(rules)
    call_id = rules.open_call("I1", g, NOW, call_id="call-1")
    assert rules.open_call("I1", g, NOW, call_id="call-1") == "call-1"
    rules.connected("call-1", NOW)
    first = rules.close_call(call_id, NOW + timedelta(minutes=2), "hang_up", connected_s=120)
    again = rules.close_call(call_id, NOW + timedelta(minutes=3), "power_loss", connected_s=300)
    assert first == again
    rows = store.db.execute("SELECT kind, count(*) FROM rules_ledger GROUP BY kind ORDER BY kind").fetchall()
    assert [tuple(r) for r in rows] == [("charge", 1), ("release", 1), ("reserve", 1)]
    assert len(outbox(store)) == 4


def test_an_unanswered_call_costs_nothing_and_releases_its_hold(store: Store) -> None:
    rules = setup(store)
    call_id = rules.open_call("I1", grant(rules), NOW)
    record = rules.close_call(call_id, NOW + timedelta(seconds=40), "no_answer", connected_s=30)
    assert (record.charge_cents, record.billed_s, record.connected_at) == (0, 0, None)
    assert rules.balance_cents("debit", "I1") == 500
    assert [p.get("kind", k) for k, p in outbox(store)] == ["reserve", "cdr", "release"]


def test_a_refused_attempt_is_a_call_record(store: Store) -> None:
    rules = setup(store)
    refusal = rules.check("I1", "8005551234", "debit", NOW)
    assert isinstance(refusal, Refusal)
    record = rules.refused_attempt("I1", "8005551234", "debit", refusal, NOW)
    assert (record.end_reason, record.charge_cents, record.number) == ("refuse.toll_free", 0, "8005551234")
    assert [k for k, _ in outbox(store)] == ["cdr"]


def test_usage_counts_feed_the_limits(store: Store) -> None:
    rules = setup(store, balance=10_000, limits={"calls_per_day": 2, "min_wait_s": 300})
    talk(rules, 125)
    assert rules.records.usage.count("I1", rules.data.inmate("I1"), NOW).minutes_month == 3  # type: ignore[arg-type]
    soon = NOW + timedelta(seconds=145 + 299)
    assert rules.check("I1", NUMBER, "debit", soon).reason == "refuse.min_wait"  # type: ignore[union-attr]
    later = NOW + timedelta(seconds=145 + 300)
    talk(rules, 60, now=later)
    third = later + timedelta(hours=1)
    assert rules.check("I1", NUMBER, "debit", third).reason == "refuse.calls_per_day"  # type: ignore[union-attr]
    tomorrow = local(2026, 11, 25, 7, 0)
    assert rules.check("I1", NUMBER, "debit", tomorrow).allowed


def test_server_usage_replaces_acknowledged_local_counts(store: Store) -> None:
    rules = setup(store, balance=10_000, limits={"calls_per_day": 2, "min_wait_s": 0})
    talk(rules, 60)
    talk(rules, 60, now=NOW + timedelta(minutes=5))
    assert rules.check("I1", NUMBER, "debit", NOW + timedelta(hours=1)).reason == "refuse.calls_per_day"  # type: ignore[union-attr]
    box = Outbox(store)
    box.acknowledge(item.id for item in box.pending())
    assert rules.check("I1", NUMBER, "debit", NOW + timedelta(hours=1)).allowed
    seed(store, {"inmates": {"I1": inmate("1234", usage={"day": "2026-11-24", "calls_day": 2})}})
    assert rules.check("I1", NUMBER, "debit", NOW + timedelta(hours=1)).reason == "refuse.calls_per_day"  # type: ignore[union-attr]


def test_a_called_party_block_takes_effect_at_once(store: Store) -> None:
    rules = setup(store)
    assert rules.block_number(NUMBER, NOW, call_id="c1", inmate_id="I1")
    assert not rules.block_number(NUMBER, NOW)
    assert rules.check("I1", NUMBER, "debit", NOW).reason == "refuse.blocked"  # type: ignore[union-attr]
    assert [(k, p["number"], p["source"]) for k, p in outbox(store)] == [("block", NUMBER, "called_party")]
    seed(store, {"blocks": {"5735559999": {"source": "central"}}})
    assert rules.check("I1", "5735559999", "debit", NOW).reason == "refuse.blocked"  # type: ignore[union-attr]


def test_violations_and_reports_reach_the_outbox_and_the_cdr(store: Store) -> None:
    rules = setup(store)
    call_id = rules.open_call("I1", grant(rules), NOW)
    rules.connected(call_id, NOW)
    rules.violation(
        "three_way", NOW + timedelta(seconds=30), call_id=call_id, inmate_id="I1", detail={"confidence": 0.93}
    )
    rules.report_hookflash(600, NOW + timedelta(seconds=40), call_id=call_id, inmate_id="I1")
    rules.report_pulse_dialing(5, (60, 61, 59, 60, 62), NOW + timedelta(seconds=50))
    record = rules.close_call(call_id, NOW + timedelta(seconds=60), "three_way", connected_s=60)
    assert record.violations == ("three_way",)
    kinds = [k for k, _ in outbox(store)]
    assert kinds.count("violation") == 1 and "hookflash" in kinds and "pulse_dialing" in kinds
    pulses = next(p for k, p in outbox(store) if k == "pulse_dialing")
    assert pulses["detail"] == {"pulses": 5, "durations_ms": [60, 61, 59, 60, 62]}


def test_recover_bills_the_last_checkpoint_once(store: Store) -> None:
    rules = setup(store)
    call_id = rules.open_call("I1", grant(rules), NOW)
    rules.connected(call_id, NOW)
    rules.checkpoint(call_id, 61)
    rules.checkpoint(call_id, 30)  # never backwards
    restarted = call_rules(store)
    [record] = restarted.recover(NOW + timedelta(minutes=5))
    assert (record.end_reason, record.billed_minutes, record.charge_cents) == ("power_loss", 2, 16)
    assert restarted.recover(NOW + timedelta(minutes=6)) == []
    assert restarted.balance_cents("debit", "I1") == 500 - 16


def test_free_first_call_is_free_and_used_once(store: Store) -> None:
    rules = setup(store)
    record = talk(rules, 90, number="5735550000", call_type="collect")
    assert (record.free_call, record.charge_cents) == (True, 0)
    refusal = rules.check("I1", "5735550000", "collect", NOW + timedelta(hours=1))
    assert refusal.reason == "refuse.collect_unbillable"  # type: ignore[union-attr]


def test_offline_bound_caps_unacknowledged_spend(store: Store) -> None:
    rules = setup(store, balance=10_000, offline={"max_unsynced_spend_per_account": "1.00"}, limits={"min_wait_s": 0})
    g = grant(rules)
    assert (g.max_duration_s, g.limited_by, g.reservation_cents) == (720, "offline_limit", 96)
    talk(rules, 720)
    assert rules.check("I1", NUMBER, "debit", NOW + timedelta(hours=1)).reason == "refuse.offline_limit"  # type: ignore[union-attr]
    box = Outbox(store)
    box.acknowledge(item.id for item in box.pending())
    assert rules.check("I1", NUMBER, "debit", NOW + timedelta(hours=1)).allowed


def test_direct_bill_spends_within_its_limit(store: Store) -> None:
    rules = setup(store)
    seed(
        store,
        {"accounts": {f"direct_bill:{NUMBER}": {"approved": True, "limit_cents": 100, "spent_cents": 74}}},
    )
    g = grant(rules, call_type="direct_bill")
    assert (g.max_duration_s, g.limited_by, g.reservation_cents) == (120, "funds", 26)


def test_record_and_outbox_commit_together_or_not_at_all(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = setup(store)
    call_id = rules.open_call("I1", grant(rules), NOW)
    rules.connected(call_id, NOW)
    real_add = rules.records.journal.outbox.add
    calls = []

    def failing_add(db, kind, payload, created_at=None):
        calls.append(kind)
        if len(calls) == 2:
            raise OSError("disk full")
        return real_add(db, kind, payload, created_at)

    monkeypatch.setattr(rules.records.journal.outbox, "add", failing_add)
    with pytest.raises(OSError):
        rules.close_call(call_id, NOW + timedelta(minutes=1), "hang_up", connected_s=60)
    assert rules.records.calls.cdr(call_id) is None
    assert rules.records.calls.open_calls() == [call_id]
    assert [p.get("kind", k) for k, p in outbox(store)] == ["reserve"]
    monkeypatch.undo()
    assert rules.close_call(call_id, NOW + timedelta(minutes=1), "hang_up", connected_s=60).charge_cents == 8


def test_bad_roster_data_refuses_and_is_reported(store: Store) -> None:
    rules = setup(store)
    with store.transaction() as db:
        CentralCache(store).put(db, "accounts", "debit:I1", {"balance": 1}, 9)
    result = rules.check("I1", NUMBER, "debit", NOW)
    assert isinstance(result, Refusal) and result.reason == "refuse.unavailable"
    assert [k for k, _ in outbox(store)] == ["data_error"]
