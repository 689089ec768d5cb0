"""Collect, direct-bill, debit and prepaid calls: each connects to whom it may, and is billed to its payer."""

from __future__ import annotations

import sqlite3

import pytest

from tests.handset.helpers import CELL, HOME, dial_steps, of, one, party, press, prompts, run, scenario

DIRECT = {f"direct_bill:{CELL}": {"approved": True}}


def talk(tmp_path, number, type_key, **extra):
    steps = dial_steps(number, type_key) + [{"at_s": 100.0, "action": "hang_up"}]
    return run(scenario(steps, [party(number, press(1.0, "1"))], until_s=110, **extra), tmp_path)


def ledger(tmp_path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(tmp_path / "ringfence.sqlite") as db:
        return db.execute("SELECT account, kind, amount_cents FROM rules_ledger ORDER BY at, kind").fetchall()


@pytest.mark.parametrize(
    ("number", "key", "call_type", "account", "cp_type"),
    [
        (HOME, "1", "collect", None, "cp_type_collect"),
        (CELL, "2", "direct_bill", f"direct_bill:{CELL}", "cp_type_direct_bill"),
        (HOME, "3", "debit", "debit:A1001", "cp_type_debit"),
        (CELL, "3", "debit", "debit:A1001", "cp_type_debit"),
        (CELL, "4", "prepaid", f"prepaid:{CELL}", "cp_type_prepaid"),
    ],
)
def test_each_call_type_connects_and_bills_its_payer(tmp_path, number, key, call_type, account, cp_type):
    records = talk(tmp_path, number, key, world={"accounts": DIRECT})
    assert cp_type in prompts(records, "line")
    cdr = one(records, "cdr")
    assert cdr["call_type"] == call_type and cdr["charge_cents"] > 0
    charges = [row for row in ledger(tmp_path) if row[1] == "charge"]
    if account is None:
        assert charges == [], "a collect call is billed by the called party's carrier, not from an account"
    else:
        assert charges == [(account, "charge", cdr["charge_cents"])]
        assert (account, "reserve") in {(a, k) for a, k, _ in ledger(tmp_path)}, "funds held first"


def test_direct_bill_needs_an_approved_account(tmp_path):
    steps = dial_steps(CELL, "2")
    records = run(
        scenario(steps, until_s=30, world={"accounts": {f"direct_bill:{CELL}": {"approved": False}}}), tmp_path
    )
    assert one(records, "cdr")["end_reason"] == "refuse.no_direct_bill" and not of(records, "dial")
    assert "advice.setup_direct_bill_prepaid" in prompts(records)


def test_prepaid_needs_an_account_for_the_number(tmp_path):
    records = run(scenario(dial_steps(HOME, "4"), until_s=30), tmp_path)
    assert one(records, "cdr")["end_reason"] == "refuse.no_prepaid" and not of(records, "dial")


def test_a_call_type_this_unit_does_not_offer_asks_for_another(tmp_path):
    rules = {"units": {"A": {"call_types": ["debit"]}}}
    steps = dial_steps(HOME, "1") + [
        {"at_s": 12.0, "action": "keys", "keys": "3"},
        {"at_s": 13.0, "action": "keys", "keys": HOME + "#"},
    ]
    records = run(scenario(steps, [party(HOME, answer_after_rings=None)], until_s=40, rules=rules), tmp_path)
    assert [r["end_reason"] for r in of(records, "cdr")] == ["refuse.call_type_disabled"]
    assert prompts(records).count("choose_call_type") == 2 and one(records, "dial")["number"] == HOME
