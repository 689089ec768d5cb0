"""Authorisation: may this inmate, at this phone, now, call this number with this call type, and for how long?

`authorize` is a pure function of the rules, the request and the facts the device knows (gathered from the store
by firmware/rules/service.py). It answers a Refusal (a prompt id the handset speaks, with the prompts and values
that follow it) or a Grant (how long, when to warn, whether to record, what it costs, what to reserve).
"Most restrictive wins" everywhere, except recording: any level that says "do not record" wins.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal

from firmware.rules import schedule
from firmware.rules.datasets import Inmate, NumberInfo
from firmware.rules.dialplan import Destination, classify
from firmware.rules.facility import FacilityRules
from firmware.rules.rating import (
    CostStatement,
    Tariff,
    charge_cents,
    cost_statement,
    seconds_affordable,
    tariff,
)
from firmware.rules.rule_types import CallType

#: Spoken after a collect refusal or a free first call: how to set up direct-bill or prepaid.
SETUP_ADVICE = "advice.setup_direct_bill_prepaid"

LimitName = Literal["call_type_limit", "shutoff", "funds", "offline_limit", "minutes_month", "free_call"]


@dataclass(frozen=True)
class Refusal:
    reason: str
    #: Prompt ids spoken after the reason (the restriction's reason, the way to set up an account).
    prompts: tuple[str, ...] = ()
    #: Values the prompts speak: a date, seconds to wait, minutes left.
    params: Mapping[str, Any] = field(default_factory=dict)
    #: Who was refused, when a valid PIN named them before the refusal (a restriction found at the PIN).
    inmate_id: str = ""
    allowed: ClassVar[bool] = False


@dataclass(frozen=True)
class Usage:
    """What the inmate has used, by the server's count plus this device's records the server has not seen."""

    calls_today: int = 0
    minutes_month: int = 0
    last_call_end: datetime | None = None


@dataclass(frozen=True)
class Funds:
    """The account a call would draw on. `available_cents` None means no limit (collect, unlimited direct-bill)."""

    account: str | None = None
    exists: bool = True
    approved: bool = True
    available_cents: int | None = None
    #: What the offline bounds still let this device spend on this account before the server sees it.
    offline_headroom_cents: int | None = None


@dataclass(frozen=True)
class Facts:
    list_actions: frozenset[str] = frozenset()
    #: A called-party block, from the central server or made on this device.
    blocked: bool = False
    number_info: NumberInfo | None = None
    free_call_used: bool = False
    usage: Usage = Usage()
    funds: Funds = Funds()


@dataclass(frozen=True)
class CallRequest:
    inmate_id: str
    inmate: Inmate
    #: The housing unit of the phone being used.
    housing_unit: str
    dialed: str
    call_type: CallType
    now: datetime


@dataclass(frozen=True)
class Warning:
    after_s: int
    remaining_s: int
    prompt: str


@dataclass(frozen=True)
class CallTiming:
    """A connected call's clock: end `end_after_s` after connecting, warnings before, `end_prompt` at the end."""

    end_after_s: int
    end_reason: LimitName
    end_prompt: str
    warnings: tuple[Warning, ...]


@dataclass(frozen=True)
class Grant:
    call_type: CallType
    destination: Destination
    max_duration_s: int
    limited_by: LimitName
    shutoff_at: datetime | None
    recorded: bool
    attorney: bool
    tariff: Tariff
    cost: CostStatement
    reservation_cents: int
    account: str | None
    free_call: bool
    announcement_interval_s: int
    two_minute_warning: bool
    one_minute_warning: bool
    #: Prompts for the called party after the call (a free first call: how to set up an account).
    after_call_prompts: tuple[str, ...] = ()
    #: An emergency call the facility allows: placed at once, free, recorded, reported to staff.
    emergency: bool = False
    allowed: ClassVar[bool] = True

    @property
    def number(self) -> str:
        return self.destination.number

    def timing(self, connected_at: datetime) -> CallTiming:
        """The limits counted from the moment the called party accepted; a shut-off stays at its clock time."""
        end_after, reason = self.max_duration_s, self.limited_by
        if self.shutoff_at is not None:
            until_shutoff = int((self.shutoff_at - schedule.require_aware(connected_at)).total_seconds())
            if until_shutoff < end_after:
                end_after, reason = max(until_shutoff, 0), "shutoff"
        warnings = []
        if self.two_minute_warning and end_after > 120:
            warnings.append(Warning(end_after - 120, 120, "warn.two_minutes"))
        if self.one_minute_warning and end_after > 60:
            warnings.append(Warning(end_after - 60, 60, "warn.one_minute"))
        return CallTiming(end_after, reason, f"end.{reason}", tuple(warnings))


def effective_limit(*values: int | None) -> int | None:
    """The strictest of the limits that are set."""
    present = [v for v in values if v is not None]
    return min(present) if present else None


def call_types_enabled(rules: FacilityRules, housing_unit: str) -> list[CallType]:
    unit_types = rules.unit(housing_unit).call_types
    return [t for t in rules.call_types.enabled if unit_types is None or t in unit_types]


def restriction_refusal(inmate: Inmate, now: datetime, rules: FacilityRules) -> Refusal | None:
    """An inmate on restricted status cannot call until the day after the restriction's last day."""
    if inmate.status != "restricted" or inmate.restriction is None:
        return None
    until = inmate.restriction.until
    if until is not None and schedule.local(now, rules).date() > until:
        return None
    params = {"until": until.isoformat()} if until else {}
    return Refusal("refuse.restricted", (f"restriction.{inmate.restriction.reason}",), params)


def shutoff_refusal(now: datetime, rules: FacilityRules, housing_unit: str) -> Refusal | None:
    period = schedule.current_off(now, rules, housing_unit)
    if period is None:
        return None
    return Refusal("refuse.shutoff", (), {"until": period.end.strftime("%H:%M")})


def _duration_limit_s(request: CallRequest, rules: FacilityRules) -> int:
    kind = schedule.day_kind(schedule.local(request.now, rules).date(), rules)
    return getattr(rules.durations[request.call_type], kind) * 60


def _limits(request: CallRequest, rules: FacilityRules) -> tuple[int | None, int | None, int]:
    facility, unit, own = rules.limits, rules.unit(request.housing_unit).limits, request.inmate.limits
    return (
        effective_limit(facility.calls_per_day, unit.calls_per_day, own.calls_per_day),
        effective_limit(facility.minutes_per_month, unit.minutes_per_month, own.minutes_per_month),
        max(facility.min_wait_s, unit.min_wait_s, own.min_wait_s or 0),
    )


def _is_attorney(number: str, inmate: Inmate, facts: Facts) -> bool:
    return "attorney" in facts.list_actions or number in inmate.attorney_numbers


def _usage_refusal(request: CallRequest, facts: Facts, rules: FacilityRules) -> Refusal | None:
    calls_per_day, _minutes, min_wait_s = _limits(request, rules)
    usage = facts.usage
    if calls_per_day is not None and usage.calls_today >= calls_per_day:
        return Refusal("refuse.calls_per_day", (), {"limit": calls_per_day})
    if min_wait_s and usage.last_call_end is not None:
        waited = (request.now - usage.last_call_end).total_seconds()
        if waited < min_wait_s:
            return Refusal("refuse.min_wait", (), {"wait_s": math.ceil(min_wait_s - waited)})
    return None


def _billing_refusal(request: CallRequest, facts: Facts, rules: FacilityRules) -> Refusal | None:
    funds = facts.funds
    if request.call_type == "direct_bill" and not (funds.exists and funds.approved):
        return Refusal("refuse.no_direct_bill", (SETUP_ADVICE,))
    if request.call_type == "prepaid" and not funds.exists:
        return Refusal("refuse.no_prepaid", (SETUP_ADVICE,))
    if request.call_type == "debit" and not funds.exists:
        return Refusal("refuse.insufficient_funds")
    return None


def _collect_billable(facts: Facts, rules: FacilityRules) -> bool:
    if facts.number_info is None:
        return rules.numbers.unknown_collect_billable
    return facts.number_info.collect_billable


def emergency_grant(rules: FacilityRules, request: CallRequest, destination: Destination) -> Grant:
    """An allowed emergency call: free (no account, zero rates), always recorded, as long as the rule allows."""
    assert destination.call_class is not None
    rule = rules.dialplan.emergency[destination.dialed]
    free = Tariff(request.call_type, destination.call_class, Decimal(0), Decimal(0), rules.rating)
    return Grant(
        call_type=request.call_type,
        destination=destination,
        max_duration_s=rule.max_minutes * 60,
        limited_by="call_type_limit",
        shutoff_at=None,
        recorded=True,
        attorney=False,
        tariff=free,
        cost=CostStatement(0, 0, 0),
        reservation_cents=0,
        account=None,
        free_call=False,
        announcement_interval_s=rules.announcement.interval_s,
        two_minute_warning=rules.warnings.two_minute,
        one_minute_warning=rules.warnings.one_minute,
        emergency=True,
    )


def _caller_refusal(request: CallRequest, now: datetime, rules: FacilityRules) -> Refusal | None:
    """Who calls, from where and when: the call type in this unit, the inmate's restrictions, the inmate's own
    unit, the unit's shut-off hours."""
    if request.call_type not in call_types_enabled(rules, request.housing_unit):
        return Refusal("refuse.call_type_disabled", (), {"call_type": request.call_type})
    refusal = restriction_refusal(request.inmate, now, rules)
    if refusal is not None:
        return refusal
    if rules.pin.own_unit_only and request.inmate.housing_unit not in (None, request.housing_unit):
        return Refusal("refuse.wrong_unit")
    return shutoff_refusal(now, rules, request.housing_unit)


def _number_refusal(
    request: CallRequest, destination: Destination, attorney: bool, facts: Facts, rules: FacilityRules
) -> Refusal | None:
    """The number dialed: the dial plan (some refusals a list entry lifts), blocks, and the inmate's allowed
    numbers (PAN), which an attorney's number may skip."""
    allowed_by_list = "allow" in facts.list_actions or "attorney" in facts.list_actions
    if destination.refusal is not None and not (destination.liftable and allowed_by_list):
        return Refusal(destination.refusal)
    if destination.call_class is None:
        return Refusal("refuse.invalid_number")
    if "block" in facts.list_actions or facts.blocked:
        return Refusal("refuse.blocked")
    pan = request.inmate.pan
    pan_applies = rules.pan.required or pan.required
    exempt = attorney and rules.pan.attorney_exempt
    if pan_applies and destination.number not in pan.numbers and not exempt:
        return Refusal("refuse.not_on_pan")
    return None


Bound = tuple[int, LimitName, str]


def _duration_bounds(
    request: CallRequest, facts: Facts, rules: FacilityRules, now: datetime, price: Tariff, free_call: bool
) -> tuple[list[Bound], datetime | None]:
    """Every limit on the call's length, in seconds, with what it is called and the refusal when it leaves too
    little; and the coming shut-off, if any."""
    bounds: list[Bound] = [(_duration_limit_s(request, rules), "call_type_limit", "")]
    _calls, minutes_per_month, _wait = _limits(request, rules)
    if minutes_per_month is not None:
        left_s = max(minutes_per_month - facts.usage.minutes_month, 0) * 60
        bounds.append((left_s, "minutes_month", "refuse.minutes_month"))
    shutoff_at = schedule.next_shutoff(now, rules, request.housing_unit)
    if shutoff_at is not None:
        bounds.append((int((shutoff_at - now).total_seconds()), "shutoff", "refuse.shutoff"))
    if free_call:
        bounds.append((rules.free_first_call.max_minutes * 60, "free_call", ""))
        return bounds, shutoff_at
    ceiling = min(b[0] for b in bounds)
    funds = facts.funds
    if funds.available_cents is not None:
        affordable = seconds_affordable(max(funds.available_cents, 0), price, ceiling)
        bounds.append((affordable, "funds", "refuse.insufficient_funds"))
    if funds.offline_headroom_cents is not None:
        affordable = seconds_affordable(max(funds.offline_headroom_cents, 0), price, ceiling)
        bounds.append((affordable, "offline_limit", "refuse.offline_limit"))
    return bounds, shutoff_at


def authorize(rules: FacilityRules, request: CallRequest, facts: Facts) -> Grant | Refusal:
    """Every rule in a fixed order; the first that refuses gives the reason the inmate hears. An emergency
    number the facility allows comes first: no funds, limit, list or coming shut-off stops it."""
    now = schedule.require_aware(request.now)
    destination = classify(request.dialed, rules.dialplan)
    if destination.emergency:
        return emergency_grant(rules, request, destination)
    attorney = _is_attorney(destination.number, request.inmate, facts)
    refusal = _caller_refusal(request, now, rules)
    if refusal is None:
        refusal = _number_refusal(request, destination, attorney, facts, rules)
    if refusal is None:
        refusal = _usage_refusal(request, facts, rules)
    if refusal is None:
        refusal = _billing_refusal(request, facts, rules)
    if refusal is not None:
        return refusal

    free_call = False
    after_call: tuple[str, ...] = ()
    if request.call_type == "collect" and not _collect_billable(facts, rules):
        if not (rules.free_first_call.enabled and not facts.free_call_used):
            return Refusal("refuse.collect_unbillable", (SETUP_ADVICE,))
        free_call, after_call = True, (SETUP_ADVICE,)

    assert destination.call_class is not None  # _number_refusal refuses a number with no class
    price = tariff(rules.rating, request.call_type, destination.call_class)
    bounds, shutoff_at = _duration_bounds(request, facts, rules, now, price, free_call)
    max_duration, limited_by, refusal_id = min(bounds, key=lambda b: b[0])
    if max_duration < rules.call_types.min_grant_s:
        return Refusal(refusal_id or "refuse.insufficient_funds", (), {"seconds": max_duration})

    funds = facts.funds
    reserve = 0 if free_call or funds.account is None else charge_cents(max_duration, price)
    unit = rules.unit(request.housing_unit)
    recorded = (
        rules.recording.enabled and request.call_type in rules.recording.call_types and unit.recording and not attorney
    )
    return Grant(
        call_type=request.call_type,
        destination=destination,
        max_duration_s=max_duration,
        limited_by=limited_by,
        shutoff_at=shutoff_at,
        recorded=recorded,
        attorney=attorney,
        tariff=price,
        cost=cost_statement(price, _duration_limit_s(request, rules)),
        reservation_cents=reserve,
        account=None if free_call else funds.account,
        free_call=free_call,
        announcement_interval_s=rules.announcement.interval_s,
        two_minute_warning=rules.warnings.two_minute,
        one_minute_warning=rules.warnings.one_minute,
        after_call_prompts=after_call,
    )
