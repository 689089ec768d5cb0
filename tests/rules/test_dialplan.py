"""NANP dial plan: every forbidden class refused with its reason, valid numbers classed for rating."""

from __future__ import annotations

import pytest

from firmware.rules.dialplan import classify
from tests.rules.conftest import make_rules

PLAN = make_rules().dialplan


@pytest.mark.parametrize(
    ("dialed", "number", "call_class", "refusal"),
    [
        ("5735551234", "5735551234", "local", None),
        ("15735551234", "5735551234", "local", None),
        ("5551234", "5735551234", "local", None),
        ("3145551234", "3145551234", "intrastate", None),
        ("2125551234", "2125551234", "interstate", None),
        ("8005551234", "8005551234", "interstate", "refuse.toll_free"),
        ("18885551234", "8885551234", "interstate", "refuse.toll_free"),
        ("8335551234", "8335551234", "interstate", "refuse.toll_free"),
        ("8995551234", "8995551234", "interstate", None),
        ("9005551234", "9005551234", "interstate", "refuse.premium"),
        ("5739761234", "5739761234", "local", "refuse.premium"),
        ("5739771234", "5739771234", "local", None),
        ("911", "911", None, "refuse.emergency"),
        ("988", "988", None, "refuse.emergency"),
        ("411", "411", None, "refuse.n11"),
        ("1411", "411", None, "refuse.n11"),
        ("0", "0", None, "refuse.operator"),
        ("05735551234", "05735551234", None, "refuse.operator"),
        ("011442071234567", "011442071234567", "international", "refuse.international"),
        ("1735551234", "1735551234", None, "refuse.invalid_number"),
        ("5731551234", "5731551234", None, "refuse.invalid_number"),
        ("4115551234", "4115551234", None, "refuse.invalid_number"),
        ("5734111234", "5734111234", None, "refuse.invalid_number"),
        ("573555123", "573555123", None, "refuse.invalid_number"),
        ("573555123456", "573555123456", None, "refuse.invalid_number"),
        ("57355512*4", "57355512*4", None, "refuse.invalid_number"),
        ("", "", None, "refuse.invalid_number"),
    ],
)
def test_classify(dialed: str, number: str, call_class: str | None, refusal: str | None) -> None:
    destination = classify(dialed, PLAN)
    assert (destination.number, destination.call_class, destination.refusal) == (number, call_class, refusal)


def test_seven_digit_dialing_needs_a_home_npa() -> None:
    plan = make_rules(dialplan={"home_npa": ""}).dialplan
    assert classify("5551234", plan).refusal == "refuse.invalid_number"


def test_international_when_allowed_only_to_listed_countries() -> None:
    plan = make_rules(dialplan={"allow_international": True, "international_country_codes": ["52"]}).dialplan
    assert classify("011525512345678", plan).refusal is None
    assert classify("011442071234567", plan).refusal == "refuse.international"
    assert classify("011521234", plan).refusal == "refuse.invalid_number"


def test_n11_and_operator_can_be_turned_off_but_stay_undialable() -> None:
    plan = make_rules(dialplan={"forbid_n11": False, "forbid_operator": False}).dialplan
    assert classify("411", plan).refusal == "refuse.invalid_number"
    assert classify("0", plan).refusal == "refuse.invalid_number"


def test_toll_free_list_is_data() -> None:
    plan = make_rules(dialplan={"toll_free_npas": ["800"]}).dialplan
    assert classify("8885551234", plan).refusal is None
    assert classify("8005551234", plan).refusal == "refuse.toll_free"


def test_emergency_numbers_follow_the_facility_rule() -> None:
    plan = make_rules(
        dialplan={
            "forbid_n11": False,
            "emergency": {"911": {"action": "allow"}, "988": {"action": "route", "route_to": "5735550988"}},
        }
    ).dialplan
    allowed, routed = classify("911", plan), classify("988", plan)
    assert (allowed.number, allowed.emergency, allowed.refusal) == ("911", True, None)
    assert (routed.number, routed.call_class, routed.emergency) == ("5735550988", "local", True)
    assert classify("411", plan).refusal == "refuse.invalid_number", "other N11 codes keep the N11 rule"


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"action": "route"}, "needs route_to"),
        ({"action": "allow", "route_to": "5735550988"}, "route_to is only used with action"),
        ({"action": "route", "route_to": "911"}, "route_to"),
        ({"action": "call"}, "action"),
    ],
)
def test_a_bad_emergency_rule_is_one_clear_error(rule: dict, expected: str) -> None:
    from firmware.rules.facility import RulesError

    with pytest.raises(RulesError, match=expected) as caught:
        make_rules(dialplan={"emergency": {"911": rule}})
    assert "dialplan.emergency.911" in str(caught.value) and "\n" not in str(caught.value)
