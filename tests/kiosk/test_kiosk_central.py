"""The central server's purchase books: apply once, limits at both edges, voiding, audit."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from firmware.kiosk.policy import PurchaseRules
from firmware.kiosk.service import PurchaseRequest
from sim.central.purchases import CentralPurchases, PurchaseError

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOON

    def __call__(self) -> datetime:
        return self.now


def books(rules: PurchaseRules | None = None, trust: int = 10_000) -> tuple[CentralPurchases, Clock]:
    clock = Clock()
    central = CentralPurchases(sqlite3.connect(":memory:", isolation_level=None), rules or PurchaseRules(), clock)
    central.set_account("A1", trust, 0)
    return central, clock


def buy(key: str, amount: int, fee: int = 0, inmate: str = "A1") -> PurchaseRequest:
    return PurchaseRequest(key, "kiosk-1", inmate, amount, fee)


def test_the_same_key_applies_once_and_answers_the_same_every_time() -> None:
    central, _ = books()
    first = central.apply(buy("k1", 1000))
    again = central.apply(buy("k1", 1000))
    assert first == again and first.status == "applied"
    assert central.balances("A1") == (9000, 1000)
    assert [a.action for a in central.audit()] == ["purchase", "duplicate"]


def test_daily_limit_just_inside_and_just_outside() -> None:
    central, clock = books(PurchaseRules(daily_limit_cents=5000))
    assert central.apply(buy("k1", 4000)).status == "applied"
    over = central.apply(buy("k2", 1100))
    assert (over.status, over.reason) == ("declined", "daily_limit")
    assert central.apply(buy("k3", 1000)).status == "applied"  # exactly the limit
    clock.now = NOON + timedelta(hours=12)  # the next facility day
    assert central.apply(buy("k4", 1000)).status == "applied"


def test_the_facility_day_follows_its_time_zone() -> None:
    central, clock = books(PurchaseRules(daily_limit_cents=1000, timezone="America/Chicago"))
    clock.now = datetime(2026, 3, 2, 5, 59, tzinfo=UTC)  # 23:59 in Chicago, March 1st
    assert central.apply(buy("k1", 1000)).status == "applied"
    clock.now = datetime(2026, 3, 2, 6, 1, tzinfo=UTC)  # 00:01 on March 2nd there
    assert central.apply(buy("k2", 1000)).status == "applied"


def test_funds_exactly_enough_and_one_cent_short() -> None:
    central, _ = books(PurchaseRules(fee_flat_cents=1), trust=1001)
    assert central.apply(buy("k1", 1000, fee=1)).status == "applied"
    central.set_account("A1", 1000, 0)
    short = central.apply(buy("k2", 1000, fee=1))
    assert (short.status, short.reason, short.trust_cents) == ("declined", "insufficient_funds", 1000)


def test_min_max_restricted_unknown_and_fee_mismatch_are_declined() -> None:
    central, _ = books()
    central.set_account("R1", 10_000, 0, restricted_until="2026-04-01")
    assert central.apply(buy("a", 400)).reason == "below_min"
    assert central.apply(buy("b", 500)).status == "applied"
    assert central.apply(buy("c", 10_100)).reason == "above_max"
    assert central.apply(buy("d", 1000, inmate="R1")).reason == "restricted"
    assert central.apply(buy("e", 1000, inmate="nobody")).reason == "unknown_inmate"
    assert central.apply(buy("f", 1000, fee=50)).reason == "fee_changed"


def test_status_of_an_unknown_key_says_unknown_and_changes_nothing() -> None:
    central, _ = books()
    assert central.status("kiosk-1", "late").status == "unknown"
    assert central.apply(buy("late", 1000)).status == "applied"
    assert central.status("kiosk-1", "late").status == "applied"
    assert central.balances("A1") == (9000, 1000)


def test_audit_says_who_when_which_kiosk_amounts_and_result() -> None:
    central, _ = books()
    central.apply(buy("k1", 2000))
    central.apply(PurchaseRequest("c1", "canteen", "A1", 500, 0), channel="canteen", staff_id="S9")
    kiosk, canteen = central.audit()
    assert (kiosk.at, kiosk.actor, kiosk.device_id, kiosk.amount_cents, kiosk.result) == (
        "2026-03-02 12:00 UTC",
        "inmate:A1",
        "kiosk-1",
        2000,
        "applied",
    )
    assert (canteen.actor, canteen.device_id, canteen.result) == ("staff:S9", "canteen", "applied")


def test_malformed_requests_are_refused_with_a_clear_error() -> None:
    central, _ = books()
    with pytest.raises(PurchaseError, match="amount -5"):
        central.apply(buy("k1", -5))
    with pytest.raises(PurchaseError, match="purchase key ''"):
        central.apply(buy("", 500))
    assert central.audit() == []


def test_account_carries_balances_spending_recent_and_rules() -> None:
    central, _ = books()
    central.apply(buy("k1", 1000))
    central.apply(buy("k2", 500))
    account = central.account("kiosk-1", "A1")
    assert (account.trust_cents, account.phone_cents, account.spent_today_cents) == (8500, 1500, 1500)
    assert [r.amount_cents for r in account.recent] == [500, 1000]


def test_rules_are_validated_with_clear_messages() -> None:
    with pytest.raises(ValidationError, match="preset 20000 is outside"):
        PurchaseRules(presets_cents=(20_000,))
    with pytest.raises(ValidationError, match="expected an IANA time zone"):
        PurchaseRules(timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="whole dollars"):
        PurchaseRules(min_cents=550)
