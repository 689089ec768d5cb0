"""Rating: what a call costs, from the facility's rate table, rounding and caps (all data, never literals).

Money leaves this module as whole cents. The same functions price a finished call, size a reservation, find how
long the funds last, and tell the called party the cost before they accept (47 CFR 64.710).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal

from firmware.rules.facility import Rating
from firmware.rules.rule_types import CallClass, CallType

_ROUNDING = {"half_up": ROUND_HALF_UP, "up": ROUND_UP, "down": ROUND_DOWN}


@dataclass(frozen=True)
class Tariff:
    """The price of one call: rate plus facility add-on, per minute, in dollars, under the facility's rating."""

    call_type: CallType
    call_class: CallClass
    rate_per_minute: Decimal
    addon_per_minute: Decimal
    rating: Rating

    @property
    def per_minute(self) -> Decimal:
        return self.rate_per_minute + self.addon_per_minute


@dataclass(frozen=True)
class CostStatement:
    """What the called party hears before accepting: the first minute, then each further minute, in cents."""

    first_minute_cents: int
    per_minute_cents: int
    #: Seconds billed at least once a call connects (the first-minute figure covers them).
    minimum_billed_s: int
    #: The longest call this call type allows at this time (weekday, weekend, holiday) and what it costs.
    full_call_s: int = 0
    full_call_cents: int = 0


def tariff(rating: Rating, call_type: CallType, call_class: CallClass) -> Tariff:
    return Tariff(
        call_type,
        call_class,
        rating.rates[call_type].for_class(call_class),
        rating.facility_addon_per_minute,
        rating,
    )


def billed_seconds(connected_s: float, rating: Rating) -> int:
    """Connected time rounded up to whole billing increments, at least the minimum; 0 under the grace time."""
    if connected_s <= 0 or connected_s < rating.grace_s:
        return 0
    increments = math.ceil(round(connected_s, 3) / rating.billing_increment_s)
    return max(increments * rating.billing_increment_s, rating.minimum_billed_s)


def billed_minutes(billed_s: int) -> int:
    return math.ceil(billed_s / 60)


def _cents(dollars: Decimal, rating: Rating) -> int:
    return int((dollars * 100).quantize(Decimal(1), rounding=_ROUNDING[rating.money_rounding]))


def charge_cents(connected_s: float, price: Tariff) -> int:
    """The charge for a call connected this long."""
    rating = price.rating
    seconds = billed_seconds(connected_s, rating)
    cents = _cents(price.per_minute * seconds / 60, rating)
    if rating.max_charge_per_call is not None:
        cents = min(cents, _cents(rating.max_charge_per_call, rating))
    return cents


def seconds_affordable(available_cents: int, price: Tariff, ceiling_s: int) -> int:
    """The longest connected time, up to `ceiling_s`, whose charge fits in `available_cents` (0 if none does)."""
    if charge_cents(ceiling_s, price) <= available_cents:
        return ceiling_s
    low, high = 0, ceiling_s
    while low < high:
        middle = (low + high + 1) // 2
        if charge_cents(middle, price) <= available_cents:
            low = middle
        else:
            high = middle - 1
    return low


def cost_statement(price: Tariff, full_call_s: int = 0) -> CostStatement:
    return CostStatement(
        charge_cents(60, price),
        _cents(price.per_minute, price.rating),
        price.rating.minimum_billed_s,
        full_call_s,
        charge_cents(full_call_s, price) if full_call_s else 0,
    )
