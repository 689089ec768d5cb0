"""The facility's purchase rules: amounts, limits and fees, as validated data owned by the central server.

The central server is the authority (it applies purchases); it sends these rules with each account so that the
kiosk can explain a refusal before the inmate confirms, and both sides judge by the same numbers.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from firmware.validation import TimeZoneName


class PurchaseRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    #: The quick choices on the buy screen, in cents (at most four fit the screen).
    presets_cents: tuple[int, ...] = Field(default=(500, 1000, 2000, 2500), min_length=1, max_length=4)
    min_cents: int = Field(default=500, ge=100)
    max_cents: int = Field(default=10000, ge=100, le=99_900)
    #: Most a person may buy in one facility day, all kiosks and the canteen together.
    daily_limit_cents: int = Field(default=5000, ge=100)
    #: FCC rules ban most ancillary fees on inmate calling: both are zero unless the facility's data says so.
    fee_flat_cents: int = Field(default=0, ge=0)
    fee_basis_points: int = Field(default=0, ge=0, le=10_000)
    #: Where the facility's day starts and ends, for the daily limit.
    timezone: TimeZoneName = "UTC"

    @model_validator(mode="after")
    def _consistent(self) -> PurchaseRules:
        if self.min_cents > self.max_cents:
            raise ValueError(f"min_cents ({self.min_cents}) is above max_cents ({self.max_cents})")
        if self.max_cents % 100 or self.min_cents % 100:
            raise ValueError("min_cents and max_cents must be whole dollars: amounts are typed in dollars")
        for preset in self.presets_cents:
            if not self.min_cents <= preset <= self.max_cents:
                raise ValueError(f"preset {preset} is outside min_cents..max_cents")
        return self

    def fee_for(self, amount_cents: int) -> int:
        return self.fee_flat_cents + (amount_cents * self.fee_basis_points + 5_000) // 10_000

    @property
    def max_digits(self) -> int:
        """How many digits a typed dollar amount may have."""
        return len(str(self.max_cents // 100))


def refusal(rules: PurchaseRules, amount_cents: int, trust_cents: int, spent_today_cents: int) -> str | None:
    """Why a purchase may not be made (a reason id shared by kiosk and central), or None if it may."""
    if amount_cents < rules.min_cents:
        return "below_min"
    if amount_cents > rules.max_cents:
        return "above_max"
    if spent_today_cents + amount_cents > rules.daily_limit_cents:
        return "daily_limit"
    if amount_cents + rules.fee_for(amount_cents) > trust_cents:
        return "insufficient_funds"
    return None


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}${cents // 100}.{cents % 100:02d}"
