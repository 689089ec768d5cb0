"""Facility rules: the dial plan, call types, rates, limits, schedules and policies a facility sets.

The central server authors them; the device loads them from one TOML file (config `paths.rules`, or the shipped
demo-facility.toml) and validates every value, so a bad file is refused with one line naming the key, the value
and what was expected, instead of being half-applied on a wall phone. The policy sections are in
facility_policies.py; the value types of every section in rule_types.py.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date, time
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, ValidationError, field_validator, model_validator

from firmware.rules.facility_policies import (
    Announcement,
    FreeFirstCall,
    HoldPolicy,
    HookflashPolicy,
    NumberPolicy,
    OfflinePolicy,
    PanPolicy,
    PinPolicy,
    RecordingPolicy,
    ThreeWayAction,
    ThreeWayPolicy,
)
from firmware.rules.rule_types import (
    CALL_CLASSES,
    CALL_TYPES,
    CallClass,
    CallType,
    DayName,
    Digits3,
    Minutes,
    Money,
    Rate,
    RulesSection,
)
from firmware.validation import TimeZoneName, summarize

DEFAULT_RULES_PATH = Path(__file__).with_name("demo-facility.toml")


class RulesError(ValueError):
    """A rules file that cannot be used; str() is the one line to show."""


class FacilityInfo(RulesSection):
    id: str = Field(min_length=1, max_length=64)
    #: What the called party hears after "a call from": spoken by the prompt catalog, in English and Spanish.
    name_en: str = Field(min_length=1)
    name_es: str = Field(min_length=1)
    timezone: TimeZoneName = "America/Chicago"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class EmergencyRule(RulesSection):
    """What dialing one emergency number (911, 988) does: the facility's explicit choice.

    allow: the call goes to the number itself; route: to the facility's `route_to` number instead; refuse: the
    inmate hears "refuse.emergency". An allowed or routed call is never stopped by funds, limits, lists or a
    coming shut-off, costs nothing, is always recorded, and is reported to staff at once (`emergency_call`)."""

    action: Literal["allow", "route", "refuse"]
    route_to: str = Field("", pattern=r"^([2-9][0-9]{2}[2-9][0-9]{6})?$")
    #: How long an emergency call may last (minutes, 1-240).
    max_minutes: int = Field(60, ge=1, le=240)

    @model_validator(mode="after")
    def _route_needs_a_number(self) -> EmergencyRule:
        if self.action == "route" and not self.route_to:
            raise ValueError('action = "route" needs route_to, a 10-digit number such as "5735550100"')
        if self.action != "route" and self.route_to:
            raise ValueError(f'route_to is only used with action = "route" (action is {self.action!r})')
        return self


class DialPlan(RulesSection):
    """NANP numbering: what a dialed string means and which destinations are forbidden."""

    #: Area code prepended to 7-digit numbers; empty means 7-digit dialing is refused as invalid.
    home_npa: str = Field("", pattern=r"^([2-9][0-9]{2})?$")
    #: NPA or NPA-NXX prefixes (3 or 6 digits) rated as local calls.
    local_prefixes: list[str] = Field(default_factory=list)
    #: Area codes of the facility's own state: intrastate calls.
    state_npas: list[Digits3] = Field(default_factory=list)
    toll_free_npas: list[Digits3] = ["800", "833", "844", "855", "866", "877", "888"]
    premium_npas: list[Digits3] = ["900"]
    #: Exchanges that are premium in every area code (NXX 976).
    premium_nxx: list[Digits3] = ["976"]
    forbid_n11: bool = True
    forbid_operator: bool = True
    allow_international: bool = False
    #: When international calls are allowed, only these country codes (empty: any).
    international_country_codes: list[Annotated[str, Field(pattern=r"^[1-9][0-9]{0,2}$")]] = Field(default_factory=list)
    #: Emergency numbers ("911", "988") and what dialing each does; a number not here follows the N11 rule.
    emergency: dict[Annotated[str, Field(pattern=r"^[0-9]{3}$")], EmergencyRule] = Field(default_factory=dict)

    @field_validator("local_prefixes")
    @classmethod
    def _prefixes(cls, value: list[str]) -> list[str]:
        for prefix in value:
            if not re.fullmatch(r"[2-9][0-9]{2}([2-9][0-9]{2})?", prefix):
                raise ValueError(f"{prefix!r}: expected an NPA (3 digits) or NPA-NXX (6 digits), first digits 2-9")
        return value


class CallTypes(RulesSection):
    enabled: list[CallType] = Field(default_factory=lambda: list(CALL_TYPES), min_length=1)
    #: A call the limits would cut shorter than this is refused rather than started.
    min_grant_s: int = Field(60, ge=1, le=600)

    @field_validator("enabled")
    @classmethod
    def _unique(cls, value: list[CallType]) -> list[CallType]:
        if len(set(value)) != len(value):
            raise ValueError("expected each call type at most once")
        return value


class ClassRates(RulesSection):
    """Dollars per minute by call class."""

    local: Rate
    intrastate: Rate
    interstate: Rate
    international: Rate = Decimal(0)

    def for_class(self, call_class: CallClass) -> Decimal:
        return getattr(self, call_class)


class Rating(RulesSection):
    currency: Literal["USD"] = "USD"
    #: Connected time is billed in whole increments, rounded up (60: per minute; 6: six-second billing).
    billing_increment_s: int = Field(60, ge=1, le=60)
    #: A connected call shorter than this is not billed at all.
    grace_s: int = Field(0, ge=0, le=60)
    minimum_billed_s: int = Field(60, ge=0, le=600)
    #: How the dollar amount becomes whole cents.
    money_rounding: Literal["half_up", "up", "down"] = "half_up"
    #: The regulator's per-minute cap on the rate (not counting the facility add-on); a rate above it is refused.
    cap_per_minute: Rate
    #: Per-minute facility add-on charged on top of the rate (FCC 25-75: $0.02).
    facility_addon_per_minute: Rate = Decimal(0)
    #: An optional ceiling on what one call can cost, in dollars.
    max_charge_per_call: Money | None = None
    rates: dict[CallType, ClassRates]

    @model_validator(mode="after")
    def _within_cap(self) -> Rating:
        for call_type, table in self.rates.items():
            for call_class in CALL_CLASSES:
                rate = table.for_class(call_class)
                if rate > self.cap_per_minute:
                    raise ValueError(
                        f"rates.{call_type}.{call_class} = {rate}: expected at most cap_per_minute"
                        f" ({self.cap_per_minute})"
                    )
        return self


class DurationLimit(RulesSection):
    weekday: Minutes
    weekend: Minutes
    holiday: Minutes


class Calendar(RulesSection):
    weekend_days: list[DayName] = ["sat", "sun"]
    holidays: list[date] = Field(default_factory=list)


class Warnings(RulesSection):
    two_minute: bool = True
    one_minute: bool = True


class OffWindow(RulesSection):
    """Phones are off from `start` to `end` (local time); a window past midnight ends the next day."""

    start: time
    end: time
    #: Days on which the window starts; empty means every day.
    days: list[DayName] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_empty(self) -> OffWindow:
        if self.start == self.end:
            raise ValueError(f"start {self.start} equals end {self.end}: expected a window of some length")
        return self


def _window(value: Any) -> Any:
    """Accept the shorthand "22:00-07:00" beside the table form."""
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*", value)
        if not match:
            raise ValueError(f"{value!r}: expected HH:MM-HH:MM such as 22:00-07:00")
        return {"start": match[1], "end": match[2]}
    return value


class Limits(RulesSection):
    """Per-inmate limits; each can be tightened per housing unit and per inmate (most restrictive wins)."""

    calls_per_day: int | None = Field(None, ge=0)
    minutes_per_month: int | None = Field(None, ge=0)
    min_wait_s: int = Field(0, ge=0)


class UnitRules(RulesSection):
    """A housing unit's own settings, combined with the facility's (the stricter one wins)."""

    off: list[OffWindow] = Field(default_factory=list)
    limits: Limits = Limits()
    call_types: list[CallType] | None = None
    recording: bool = True

    @field_validator("off", mode="before")
    @classmethod
    def _windows(cls, value: Any) -> Any:
        return [_window(v) for v in value] if isinstance(value, list) else value


class Schedule(RulesSection):
    #: Off windows for every housing unit (a unit's own windows are added to these).
    off: list[OffWindow] = Field(default_factory=list)

    @field_validator("off", mode="before")
    @classmethod
    def _windows(cls, value: Any) -> Any:
        return [_window(v) for v in value] if isinstance(value, list) else value


class FacilityRules(RulesSection):
    facility: FacilityInfo
    dialplan: DialPlan = DialPlan()
    call_types: CallTypes = CallTypes()
    rating: Rating
    durations: dict[CallType, DurationLimit]
    calendar: Calendar = Calendar()
    warnings: Warnings = Warnings()
    schedule: Schedule = Schedule()
    limits: Limits = Limits()
    units: dict[str, UnitRules] = Field(default_factory=dict)
    pin: PinPolicy = PinPolicy()
    announcement: Announcement = Announcement()
    recording: RecordingPolicy = RecordingPolicy()
    threeway: ThreeWayPolicy = ThreeWayPolicy()
    hookflash: HookflashPolicy = HookflashPolicy()
    free_first_call: FreeFirstCall = FreeFirstCall()
    pan: PanPolicy = PanPolicy()
    numbers: NumberPolicy = NumberPolicy()
    offline: OfflinePolicy = OfflinePolicy()
    holds: HoldPolicy = HoldPolicy()

    @model_validator(mode="after")
    def _complete(self) -> FacilityRules:
        for call_type in self.call_types.enabled:
            if call_type not in self.rating.rates:
                raise ValueError(f"call type {call_type!r} is enabled but rating.rates.{call_type} is missing")
            if call_type not in self.durations:
                raise ValueError(f"call type {call_type!r} is enabled but durations.{call_type} is missing")
        shortest = min(min(d.weekday, d.weekend, d.holiday) for d in self.durations.values()) * 60
        if self.free_first_call.enabled:
            shortest = min(shortest, self.free_first_call.max_minutes * 60)
        if self.call_types.min_grant_s > shortest:
            raise ValueError(
                f"call_types.min_grant_s = {self.call_types.min_grant_s}: expected at most the shortest duration"
                f" limit or free call ({shortest} s)"
            )
        return self

    def unit(self, housing_unit: str) -> UnitRules:
        """A housing unit's settings; a unit the file does not name gets the facility's alone."""
        return self.units.get(housing_unit, UnitRules())

    def threeway_actions(self, detection_number: int, switch_heard: bool) -> list[ThreeWayAction]:
        """The actions for the n-th detection (1-based) in one call (ThreeWayPolicy.actions)."""
        return self.threeway.actions(detection_number, switch_heard)


def validate_rules(data: dict[str, Any], source: str) -> FacilityRules:
    try:
        return FacilityRules.model_validate(data)
    except ValidationError as exc:
        problems = summarize(exc)
        raise RulesError(f"{source}: {problems}") from None


def load_rules(path: Path | str | None = None) -> FacilityRules:
    """The rules in `path`, or the shipped demo rules when `path` is empty or None."""
    target = Path(path) if path else DEFAULT_RULES_PATH
    try:
        data = tomllib.loads(target.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RulesError(f"{target}: no such file") from None
    except UnicodeDecodeError as exc:
        raise RulesError(f"{target}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{target}: not valid TOML: {exc}") from None
    return validate_rules(data, str(target))
