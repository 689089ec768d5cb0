"""Properties over arbitrary inputs: rating is monotone and what funds buy is exactly the longest affordable
call; the dial plan and the dataset validator answer every string with a result or a named error."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.rules.datasets import DatasetError, validate_value
from firmware.rules.dialplan import classify
from firmware.rules.rating import charge_cents, seconds_affordable, tariff
from tests.rules.conftest import make_rules

RATINGS = st.fixed_dictionaries(
    {
        "billing_increment_s": st.sampled_from([1, 6, 30, 60]),
        "grace_s": st.integers(0, 10),
        "minimum_billed_s": st.sampled_from([0, 30, 60]),
        "money_rounding": st.sampled_from(["half_up", "up", "down"]),
        "facility_addon_per_minute": st.decimals("0", "0.05", places=3).map(str),
        "rates": st.fixed_dictionaries(
            {"debit": st.fixed_dictionaries({"local": st.decimals("0", "0.11", places=4).map(str)})}
        ),
    }
)


@settings(max_examples=60, deadline=None)
@given(rating=RATINGS, available=st.integers(0, 5000), ceiling=st.integers(60, 99 * 60))
def test_funds_buy_the_longest_call_they_can_pay_for(rating: dict, available: int, ceiling: int) -> None:
    price = tariff(make_rules(rating=rating).rating, "debit", "local")
    seconds = seconds_affordable(available, price, ceiling)
    assert 0 <= seconds <= ceiling
    assert charge_cents(seconds, price) <= available
    if seconds < ceiling:
        assert charge_cents(seconds + 1, price) > available


@settings(max_examples=60, deadline=None)
@given(rating=RATINGS, a=st.floats(0, 6000), b=st.floats(0, 6000))
def test_a_longer_call_never_costs_less(rating: dict, a: float, b: float) -> None:
    price = tariff(make_rules(rating=rating).rating, "debit", "local")
    short, long = sorted((a, b))
    assert charge_cents(short, price) <= charge_cents(long, price)
    assert charge_cents(long, price) >= 0 and price.per_minute >= Decimal(0)


@given(st.text(max_size=20))
def test_any_dialed_string_gets_a_destination(dialed: str) -> None:
    destination = classify(dialed, make_rules().dialplan)
    assert destination.refusal is not None or destination.call_class is not None


@given(
    st.sampled_from(["inmates", "lists", "blocks", "accounts", "numbers", "pin_keys", "other"]),
    st.text(max_size=12),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
        max_leaves=8,
    ),
)
def test_any_value_is_valid_or_a_named_error(dataset: str, key: str, value: object) -> None:
    try:
        validate_value(dataset, key, value)
    except DatasetError as error:
        assert str(error).startswith((f"{dataset}[", f"dataset {dataset!r}"))
