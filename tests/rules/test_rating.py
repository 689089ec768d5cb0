"""Rating from data: increments, minimums, grace, rounding, caps, add-on, and what funds buy."""

from __future__ import annotations

from decimal import Decimal

import pytest

from firmware.rules.rating import billed_seconds, charge_cents, cost_statement, seconds_affordable, tariff
from tests.rules.conftest import make_rules


def price(**rating):
    rules = make_rules(rating=rating) if rating else make_rules()
    return tariff(rules.rating, "debit", "local")


@pytest.mark.parametrize(
    ("seconds", "billed"),
    [(0, 0), (0.4, 60), (1, 60), (60, 60), (60.0004, 60), (60.001, 120), (61, 120), (120, 120)],
)
def test_per_minute_billing_rounds_up(seconds: float, billed: int) -> None:
    assert billed_seconds(seconds, make_rules().rating) == billed


def test_six_second_billing_with_a_30_second_minimum_and_grace() -> None:
    rating = make_rules(rating={"billing_increment_s": 6, "minimum_billed_s": 30, "grace_s": 5}).rating
    assert billed_seconds(4.9, rating) == 0
    assert billed_seconds(5, rating) == 30
    assert billed_seconds(31, rating) == 36
    assert billed_seconds(36, rating) == 36
    assert billed_seconds(36.5, rating) == 42


def test_charge_is_rate_plus_addon_per_billed_minute() -> None:
    p = price()  # demo debit local: 0.06 + 0.02
    assert p.per_minute == Decimal("0.08")
    assert charge_cents(0, p) == 0
    assert charge_cents(1, p) == 8
    assert charge_cents(60, p) == 8
    assert charge_cents(61, p) == 16
    assert charge_cents(20 * 60, p) == 160


@pytest.mark.parametrize(("mode", "cents"), [("half_up", 2), ("up", 2), ("down", 1)])
def test_money_rounding_modes(mode: str, cents: int) -> None:
    # 0.015 + 0 add-on for 1 minute = 1.5 cents
    p = price(money_rounding=mode, facility_addon_per_minute="0", rates={"debit": {"local": "0.015"}})
    assert charge_cents(60, p) == cents


def test_a_call_costs_at_most_the_per_call_cap() -> None:
    p = price(max_charge_per_call="1.00")
    assert charge_cents(12 * 60, p) == 96
    assert charge_cents(13 * 60, p) == 100
    assert charge_cents(20 * 60, p) == 100


def test_seconds_affordable_exactly_enough_and_one_cent_short() -> None:
    p = price()
    assert seconds_affordable(8, p, 1200) == 60
    assert seconds_affordable(7, p, 1200) == 0
    assert seconds_affordable(16, p, 1200) == 120
    assert seconds_affordable(15, p, 1200) == 60
    assert seconds_affordable(10_000, p, 1200) == 1200


def test_cost_statement_for_the_called_party() -> None:
    rules = make_rules()
    statement = cost_statement(tariff(rules.rating, "collect", "interstate"))
    assert (statement.first_minute_cents, statement.per_minute_cents) == (13, 13)
    statement = cost_statement(tariff(make_rules(rating={"minimum_billed_s": 180}).rating, "debit", "local"))
    assert statement.first_minute_cents == 24 and statement.per_minute_cents == 8


def test_cost_statement_prices_the_longest_call_allowed() -> None:
    """15 minutes at 13 cents is $1.95; with a per-call cap the longest call costs the cap, not more."""
    statement = cost_statement(tariff(make_rules().rating, "collect", "interstate"), 15 * 60)
    assert (statement.full_call_s, statement.full_call_cents) == (900, 195)
    capped = cost_statement(
        tariff(make_rules(rating={"max_charge_per_call": "1.50"}).rating, "collect", "interstate"), 15 * 60
    )
    assert capped.full_call_cents == 150
