"""authorize(): every rule at both edges, and "most restrictive wins" (except recording-off)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from firmware.rules.authorize import CallRequest, Facts, Funds, Grant, Refusal, Usage, authorize
from firmware.rules.datasets import Inmate, NumberInfo
from firmware.rules.facility import FacilityRules
from tests.rules.conftest import inmate, local, make_rules

RULES = make_rules()
TUESDAY_3PM = local(2026, 11, 24, 15, 0)
LANDLINE = NumberInfo(line_type="landline", collect_billable=True)
MOBILE = NumberInfo(line_type="mobile", collect_billable=False)
RICH = Funds("debit:I1", available_cents=100_000, offline_headroom_cents=100_000)


def check(
    rules: FacilityRules = RULES,
    dialed: str = "5735551234",
    call_type: str = "debit",
    now: datetime = TUESDAY_3PM,
    unit: str = "B",
    who: dict[str, Any] | None = None,
    **facts: Any,
) -> Grant | Refusal:
    facts.setdefault("funds", RICH if call_type != "collect" else Funds())
    facts.setdefault("number_info", LANDLINE)
    person = Inmate.model_validate(who or inmate())
    return authorize(rules, CallRequest("I1", person, unit, dialed, call_type, now), Facts(**facts))  # type: ignore[arg-type]


def reason(result: Grant | Refusal) -> str:
    return "allowed" if result.allowed else result.reason  # type: ignore[union-attr]


def test_a_plain_debit_call_is_granted_up_to_the_weekday_limit() -> None:
    grant = check()
    assert isinstance(grant, Grant)
    assert (grant.max_duration_s, grant.limited_by, grant.recorded) == (20 * 60, "call_type_limit", True)
    assert grant.reservation_cents == 160 and grant.account == "debit:I1"


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (local(2026, 11, 24, 21, 59, 0), "allowed"),  # exactly min_grant_s (60 s) before shut-off
        (local(2026, 11, 24, 21, 59, 1), "refuse.shutoff"),
        (local(2026, 11, 24, 22, 0, 0), "refuse.shutoff"),
        (local(2026, 11, 25, 6, 59, 59), "refuse.shutoff"),
        (local(2026, 11, 25, 7, 0, 0), "allowed"),
    ],
)
def test_shutoff_schedule_edges(now: datetime, expected: str) -> None:
    assert reason(check(now=now)) == expected


def test_a_call_just_before_shutoff_is_cut_at_shutoff() -> None:
    grant = check(now=local(2026, 11, 24, 21, 50))
    assert isinstance(grant, Grant)
    assert (grant.max_duration_s, grant.limited_by) == (600, "shutoff")


def test_housing_unit_windows_add_to_the_facility_schedule() -> None:
    assert reason(check(now=local(2026, 11, 24, 11, 30), unit="A")) == "refuse.shutoff"
    assert reason(check(now=local(2026, 11, 24, 11, 30), unit="B")) == "allowed"
    assert reason(check(now=local(2026, 11, 24, 12, 0), unit="A")) == "allowed"


def test_off_window_limited_to_some_days() -> None:
    rules = make_rules(schedule={"off": [{"start": "13:00", "end": "14:00", "days": ["sat"]}]})
    assert reason(check(rules, now=local(2026, 11, 28, 13, 30))) == "refuse.shutoff"
    assert reason(check(rules, now=local(2026, 11, 24, 13, 30))) == "allowed"


@pytest.mark.parametrize(
    ("now", "minutes"),
    [
        (local(2026, 11, 27, 23, 59, 59), 15),  # Friday: weekday
        (local(2026, 11, 28, 0, 0, 0), 20),  # Saturday: weekend
        (local(2026, 11, 29, 23, 59, 59), 20),  # Sunday
        (local(2026, 11, 30, 0, 0, 0), 15),  # Monday
        (local(2026, 11, 26, 12, 0, 0), 30),  # Thanksgiving: holiday
        (local(2026, 11, 25, 23, 59, 59), 15),  # the evening before the holiday
    ],
)
def test_duration_limit_by_day_kind(now: datetime, minutes: int) -> None:
    rules = make_rules(schedule={"off": []}, durations={"debit": {"weekday": 15, "weekend": 20, "holiday": 30}})
    grant = check(rules, now=now)
    assert isinstance(grant, Grant)
    assert grant.max_duration_s == minutes * 60


@pytest.mark.parametrize(("calls", "expected"), [(9, "allowed"), (10, "refuse.calls_per_day")])
def test_calls_per_day(calls: int, expected: str) -> None:
    assert reason(check(usage=Usage(calls_today=calls))) == expected


def test_limits_tighten_per_unit_and_per_inmate_never_loosen() -> None:
    assert reason(check(unit="SEG", now=local(2026, 11, 24, 15), usage=Usage(calls_today=1))) == "refuse.calls_per_day"
    assert reason(check(unit="SEG", now=local(2026, 11, 24, 15), usage=Usage(calls_today=0))) == "allowed"
    strict = inmate(limits={"calls_per_day": 2})
    assert reason(check(who=strict, usage=Usage(calls_today=1))) == "allowed"
    assert reason(check(who=strict, usage=Usage(calls_today=2))) == "refuse.calls_per_day"
    loose = inmate(limits={"calls_per_day": 50})
    assert reason(check(who=loose, usage=Usage(calls_today=10))) == "refuse.calls_per_day"


@pytest.mark.parametrize(("used", "expected", "seconds"), [(299, "allowed", 60), (300, "refuse.minutes_month", None)])
def test_minutes_per_month(used: int, expected: str, seconds: int | None) -> None:
    result = check(usage=Usage(minutes_month=used))
    assert reason(result) == expected
    if seconds is not None:
        assert isinstance(result, Grant) and (result.max_duration_s, result.limited_by) == (
            seconds,
            "minutes_month",
        )


@pytest.mark.parametrize(("ago_s", "expected"), [(60, "allowed"), (59.5, "refuse.min_wait")])
def test_minimum_wait_between_calls(ago_s: float, expected: str) -> None:
    result = check(usage=Usage(last_call_end=TUESDAY_3PM - timedelta(seconds=ago_s)))
    assert reason(result) == expected
    if not result.allowed:
        assert result.params == {"wait_s": 1}  # type: ignore[union-attr]


@pytest.mark.parametrize(("cents", "expected"), [(8, "allowed"), (7, "refuse.insufficient_funds")])
def test_funds_exactly_enough_and_one_cent_short(cents: int, expected: str) -> None:
    result = check(funds=Funds("debit:I1", available_cents=cents, offline_headroom_cents=10_000))
    assert reason(result) == expected
    if result.allowed:
        assert (result.max_duration_s, result.limited_by, result.reservation_cents) == (60, "funds", 8)  # type: ignore[union-attr]


def test_offline_bound_limits_what_a_cached_balance_buys() -> None:
    assert (
        reason(check(funds=Funds("debit:I1", available_cents=10_000, offline_headroom_cents=7)))
        == "refuse.offline_limit"
    )
    grant = check(funds=Funds("debit:I1", available_cents=10_000, offline_headroom_cents=40))
    assert isinstance(grant, Grant) and (grant.max_duration_s, grant.limited_by) == (300, "offline_limit")


def test_no_debit_account_means_no_funds() -> None:
    assert reason(check(funds=Funds("debit:I1", exists=False))) == "refuse.insufficient_funds"


def test_most_restrictive_limit_wins() -> None:
    now = local(2026, 11, 24, 21, 56)  # 4 minutes to shut-off
    funds = Funds("debit:I1", available_cents=40, offline_headroom_cents=10_000)  # 5 minutes at 8 c
    grant = check(now=now, funds=funds, usage=Usage(minutes_month=297))  # 3 minutes left this month
    assert isinstance(grant, Grant) and (grant.max_duration_s, grant.limited_by) == (180, "minutes_month")
    grant = check(now=local(2026, 11, 24, 21, 58), funds=funds, usage=Usage(minutes_month=297))
    assert isinstance(grant, Grant) and (grant.max_duration_s, grant.limited_by) == (120, "shutoff")
    grant = check(now=now, funds=Funds("debit:I1", available_cents=16, offline_headroom_cents=10_000))
    assert isinstance(grant, Grant) and (grant.max_duration_s, grant.limited_by) == (120, "funds")


def test_forbidden_destinations_and_lists() -> None:
    assert reason(check(dialed="8005551234")) == "refuse.toll_free"
    assert reason(check(dialed="8005551234", list_actions=frozenset({"allow"}))) == "allowed"
    assert reason(check(dialed="9005551234", list_actions=frozenset({"allow"}))) == "allowed"
    assert reason(check(dialed="0", list_actions=frozenset({"allow"}))) == "refuse.operator"
    assert reason(check(list_actions=frozenset({"block"}))) == "refuse.blocked"
    assert reason(check(list_actions=frozenset({"block", "allow"}))) == "refuse.blocked"
    assert reason(check(blocked=True)) == "refuse.blocked"


def test_pan_required_by_facility_or_inmate() -> None:
    on_pan = inmate(pan={"numbers": ["5735551234"]})
    facility_pan = make_rules(pan={"required": True})
    assert reason(check(facility_pan, who=on_pan)) == "allowed"
    assert reason(check(facility_pan, who=on_pan, dialed="5735551235")) == "refuse.not_on_pan"
    own_pan = inmate(pan={"numbers": ["5735551234"], "required": True})
    assert reason(check(who=own_pan, dialed="5735551235")) == "refuse.not_on_pan"
    assert reason(check(who=own_pan)) == "allowed"
    assert reason(check(who=inmate(pan={"numbers": []}), dialed="5735551235")) == "allowed"


def test_attorneys_are_never_recorded_and_exempt_from_pan() -> None:
    lawyer = inmate(attorney_numbers=["5735550100"], pan={"numbers": [], "required": True})
    grant = check(who=lawyer, dialed="5735550100")
    assert isinstance(grant, Grant) and grant.attorney and not grant.recorded
    grant = check(list_actions=frozenset({"attorney"}))
    assert isinstance(grant, Grant) and grant.attorney and not grant.recorded
    strict = make_rules(pan={"attorney_exempt": False})
    assert reason(check(strict, who=lawyer, dialed="5735550100")) == "refuse.not_on_pan"


def test_recording_off_wins_at_every_level() -> None:
    assert check().recorded  # type: ignore[union-attr]
    assert not check(make_rules(recording={"enabled": False})).recorded  # type: ignore[union-attr]
    assert not check(make_rules(recording={"call_types": ["collect"]})).recorded  # type: ignore[union-attr]
    assert not check(make_rules(units={"B": {"recording": False}})).recorded  # type: ignore[union-attr]


def test_collect_to_a_number_the_carrier_cannot_bill() -> None:
    no_free = make_rules(free_first_call={"enabled": False})
    result = check(no_free, call_type="collect", number_info=MOBILE)
    assert isinstance(result, Refusal)
    assert (result.reason, result.prompts) == (
        "refuse.collect_unbillable",
        ("advice.setup_direct_bill_prepaid",),
    )
    assert reason(check(no_free, call_type="collect", number_info=LANDLINE)) == "allowed"
    assert reason(check(no_free, call_type="collect", number_info=None)) == "refuse.collect_unbillable"
    trusting = make_rules(free_first_call={"enabled": False}, numbers={"unknown_collect_billable": True})
    assert reason(check(trusting, call_type="collect", number_info=None)) == "allowed"


def test_free_first_short_call_once_per_number() -> None:
    grant = check(call_type="collect", number_info=MOBILE)
    assert isinstance(grant, Grant)
    assert (grant.free_call, grant.max_duration_s, grant.limited_by, grant.account) == (
        True,
        120,
        "free_call",
        None,
    )
    assert grant.after_call_prompts == ("advice.setup_direct_bill_prepaid",)
    assert reason(check(call_type="collect", number_info=MOBILE, free_call_used=True)) == "refuse.collect_unbillable"


def test_debit_works_to_cellphones() -> None:
    assert reason(check(call_type="debit", number_info=MOBILE)) == "allowed"


def test_direct_bill_and_prepaid_need_an_account() -> None:
    assert (
        reason(check(call_type="direct_bill", funds=Funds("direct_bill:5735551234", exists=False, approved=False)))
        == "refuse.no_direct_bill"
    )
    assert (
        reason(check(call_type="direct_bill", funds=Funds("direct_bill:5735551234", approved=False)))
        == "refuse.no_direct_bill"
    )
    grant = check(
        call_type="direct_bill",
        funds=Funds("direct_bill:5735551234", available_cents=26, offline_headroom_cents=10_000),
    )
    assert isinstance(grant, Grant) and (grant.max_duration_s, grant.limited_by) == (120, "funds")
    assert reason(check(call_type="prepaid", funds=Funds("prepaid:5735551234", exists=False))) == "refuse.no_prepaid"
    assert (
        reason(
            check(
                call_type="prepaid",
                funds=Funds("prepaid:5735551234", available_cents=8, offline_headroom_cents=99),
            )
        )
        == "allowed"
    )


@pytest.mark.parametrize(
    ("until", "expected"),
    [("2026-11-24", "refuse.restricted"), ("2026-11-23", "allowed"), (None, "refuse.restricted")],
)
def test_restricted_status_until_its_last_day(until: str | None, expected: str) -> None:
    who = inmate(status="restricted", restriction={"reason": "disciplinary", "until": until})
    result = check(who=who, dialed="8005551234")  # the restriction is heard before anything else
    assert reason(result) == (expected if expected != "allowed" else "refuse.toll_free")
    if expected == "refuse.restricted":
        assert result.prompts == ("restriction.disciplinary",)  # type: ignore[union-attr]


def test_call_types_per_unit_and_own_unit_only() -> None:
    assert reason(check(unit="SEG", call_type="prepaid")) == "refuse.call_type_disabled"
    own = make_rules(pin={"own_unit_only": True})
    assert reason(check(own, who=inmate(housing_unit="C"))) == "refuse.wrong_unit"
    assert reason(check(own, who=inmate(housing_unit="B"))) == "allowed"


def test_timing_warnings_and_shutoff_counted_from_connect() -> None:
    grant = check()
    assert isinstance(grant, Grant)
    timing = grant.timing(TUESDAY_3PM + timedelta(seconds=30))
    assert timing.end_after_s == 1200 and timing.end_prompt == "end.call_type_limit"
    assert [(w.after_s, w.prompt) for w in timing.warnings] == [
        (1080, "warn.two_minutes"),
        (1140, "warn.one_minute"),
    ]
    late = check(now=local(2026, 11, 24, 21, 35))  # 25 minutes to shut-off: the 20-minute limit applies ...
    assert isinstance(late, Grant) and late.limited_by == "call_type_limit"
    timing = late.timing(local(2026, 11, 24, 21, 45))  # ... but connecting 10 minutes later, shut-off comes first
    assert (timing.end_after_s, timing.end_reason) == (900, "shutoff")
    short = check(funds=Funds("debit:I1", available_cents=16, offline_headroom_cents=999))
    assert [w.after_s for w in short.timing(TUESDAY_3PM).warnings] == [60]  # type: ignore[union-attr]
    quiet = check(make_rules(warnings={"two_minute": False}))
    assert [w.prompt for w in quiet.timing(TUESDAY_3PM).warnings] == ["warn.one_minute"]  # type: ignore[union-attr]


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="expected a time with a time zone"):
        check(now=datetime(2026, 11, 24, 15, 0))
