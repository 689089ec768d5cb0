"""Calls the rules refuse: each is spoken with its reason, recorded, and never dialed."""

from __future__ import annotations

import pytest

from tests.handset.helpers import CELL, HOME, dial_steps, of, one, prompts, run, scenario


def refused(tmp_path, number=HOME, call_type="3", pin="1234", **extra):
    records = run(scenario(dial_steps(number, call_type, pin), until_s=40, **extra), tmp_path)
    assert not of(records, "dial"), "a refused call must never be dialed"
    return records


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("8005551234", "refuse.toll_free"),
        ("8885551234", "refuse.toll_free"),
        ("9005551234", "refuse.premium"),
        ("411", "refuse.n11"),
        ("0", "refuse.operator"),
        ("011442071234567", "refuse.international"),
        ("12345", "refuse.invalid_number"),
    ],
)
def test_forbidden_destinations_are_refused_with_their_reason(tmp_path, number, reason):
    records = refused(tmp_path, number)
    assert reason in prompts(records, "ear")
    assert one(records, "cdr")["end_reason"] == reason
    # another number may be tried: the flow asks for one
    assert "enter_other_number" in prompts(records, "ear")


def test_restricted_inmate_is_told_the_reason_and_cannot_call(tmp_path):
    records = refused(tmp_path, pin="5678")
    said = prompts(records, "ear")
    assert "refuse.restricted" in said and "restriction.disciplinary" in said
    assert of(records, "state", state="farewell") and not of(records, "check")


def test_collect_to_a_cellphone_is_refused_with_the_way_to_set_up_an_account(tmp_path):
    records = refused(tmp_path, CELL, "1", rules={"free_first_call": {"enabled": False}})
    said = prompts(records, "ear")
    assert "refuse.collect_unbillable" in said and "advice.setup_direct_bill_prepaid" in said


def test_prepaid_to_a_cellphone_with_an_account_is_allowed(tmp_path):
    records = run(scenario(dial_steps(CELL, "4"), [{"number": CELL, "answer_after_rings": None}], until_s=20), tmp_path)
    assert one(records, "dial")["number"] == CELL


def test_debit_to_a_cellphone_is_allowed(tmp_path):
    records = run(scenario(dial_steps(CELL, "3"), [{"number": CELL, "answer_after_rings": None}], until_s=20), tmp_path)
    assert one(records, "dial")["number"] == CELL


def test_facility_blocked_number_is_refused(tmp_path):
    records = refused(tmp_path, world={"lists": {"573555010?": {"action": "block"}}})
    assert one(records, "cdr")["end_reason"] == "refuse.blocked"


def test_over_the_daily_call_limit_is_refused(tmp_path):
    records = refused(tmp_path, rules={"limits": {"calls_per_day": 0}})
    assert "refuse.calls_per_day" in prompts(records)
    assert of(records, "state", state="farewell")


def test_debit_without_funds_is_refused(tmp_path):
    records = refused(tmp_path, world={"accounts": {"debit:A1001": {"balance_cents": 0}}})
    assert one(records, "cdr")["end_reason"] == "refuse.insufficient_funds"


def test_after_shut_off_calls_are_refused(tmp_path):
    # lifted at 21:59:57.5, the number is complete after 22:00: the check refuses it
    records = refused(tmp_path, start="2026-11-24T21:59:57-06:00")
    assert one(records, "cdr")["end_reason"] == "refuse.shutoff"
    assert of(records, "state", state="farewell")


def test_just_before_shut_off_a_call_is_still_allowed(tmp_path):
    records = run(
        scenario(
            dial_steps(), [{"number": HOME, "answer_after_rings": None}], until_s=20, start="2026-11-24T21:55:00-06:00"
        ),
        tmp_path,
    )
    assert of(records, "dial")


def test_three_refused_numbers_end_with_goodbye(tmp_path):
    steps = dial_steps("8005551234")
    steps += [
        {"at_s": 12.0, "action": "keys", "keys": "8005551234#"},
        {"at_s": 20.0, "action": "keys", "keys": "8005551234#"},
    ]
    records = run(scenario(steps, until_s=60), tmp_path)
    assert len(of(records, "cdr")) == 3
    assert of(records, "state", state="farewell")


def test_a_first_collect_call_to_a_cellphone_may_be_free_short_and_explains_accounts(tmp_path):
    steps = dial_steps(CELL, "1") + [{"at_s": 300.0, "action": "hang_up"}]
    parties = [
        {"number": CELL, "answer_after_rings": 1, "actions": [{"after_answer_s": 1.0, "do": "press", "keys": "1"}]}
    ]
    records = run(scenario(steps, parties, until_s=310), tmp_path)
    start = one(records, "connected")["t_ms"]
    end = one(records, "prompt", id="end.free_call")
    assert end["t_ms"] - start == 2 * 60_000 and end["to"] == "ear", "the line is released at the limit"
    assert "advice.setup_direct_bill_prepaid" in prompts(records, "both")
    cdr = one(records, "cdr")
    assert cdr["free_call"] is True and cdr["charge_cents"] == 0 and not of(records, "charge")


def test_the_restriction_end_date_is_spoken(tmp_path):
    records = refused(tmp_path, pin="5678")
    said = prompts(records, "ear")
    until = said.index("restriction.until")
    assert said[until + 1 : until + 4] == ["month_12", "n_30", "n_1"]


def test_the_wait_between_calls_is_spoken(tmp_path):
    steps = dial_steps() + [{"at_s": 20.0, "action": "hang_up"}] + dial_steps(t0=30.0)
    parties = [
        {
            "number": HOME,
            "answer_after_rings": 0,
            "actions": [{"after_answer_s": 1.0, "do": "press", "keys": "1"}, {"after_answer_s": 5.0, "do": "hang_up"}],
        }
    ]
    records = run(scenario(steps, parties, until_s=60, rules={"limits": {"min_wait_s": 120}}), tmp_path)
    assert [r["end_reason"] for r in of(records, "cdr")][-1] == "refuse.min_wait"
    said = prompts(records, "ear")
    assert said[said.index("wait_for") + 1 :][:2] == ["n_1", "w_minute"]


def test_lifting_during_shut_off_is_told_at_once(tmp_path):
    records = run(
        scenario(
            [{"at_s": 0.5, "action": "lift"}, {"at_s": 2.0, "action": "keys", "keys": "1234#"}],
            until_s=10,
            start="2026-11-24T23:00:00-06:00",
        ),
        tmp_path,
    )
    assert prompts(records, "ear")[-2:] == ["refuse.shutoff", "hang_up_now"]
    assert not of(records, "pin_checked")
