"""The value types facility rules are written in, shared by the rules' sections and by the code that applies them.

Call types and classes, day names and bounded amounts (rates, money, minutes), and the strict base of every section
of the rules file. Kept out of facility.py so that facility_policies.py, whose sections facility.py gathers, can use
them without an import cycle.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

CallType = Literal["collect", "direct_bill", "debit", "prepaid"]
CallClass = Literal["local", "intrastate", "interstate", "international"]
CALL_TYPES: tuple[CallType, ...] = ("collect", "direct_bill", "debit", "prepaid")
CALL_CLASSES: tuple[CallClass, ...] = ("local", "intrastate", "interstate", "international")
DayName = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAY_NAMES: tuple[DayName, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Digits3 = Annotated[str, Field(pattern=r"^[0-9]{3}$")]
Minutes = Annotated[int, Field(ge=1, le=99)]
Rate = Annotated[Decimal, Field(ge=0, max_digits=9, decimal_places=5)]
Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]


class RulesSection(BaseModel):
    """One table of the rules file: an unknown (misspelt) key is refused rather than ignored; loaded rules are
    immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)
