"""Both edges of the waits and limits the inmate meets: just inside works, just outside does not."""

from __future__ import annotations

import pytest

from firmware.prompts.catalog import shipped
from tests.handset.helpers import HOME, dial_steps, of, one, party, prompts, run, scenario

LIFT_S = 0.5
OFF_HOOK_S = LIFT_S + 0.03  # the hookswitch's off-hook debounce


def greeting_ends() -> float:
    catalog = shipped()
    return OFF_HOOK_S + sum(
        catalog.duration(p, lang) for p, lang in (("welcome", "en"), ("other_language", "es"), ("enter_pin", "en"))
    )


@pytest.mark.parametrize(("after_s", "reprompted"), [(9.9, False), (10.1, True)])
def test_first_key_wait_starts_when_the_greeting_ends(tmp_path, after_s, reprompted):
    key_at = greeting_ends() + after_s - 0.02  # the key registers after its 20 ms debounce
    steps = [{"at_s": LIFT_S, "action": "lift"}, {"at_s": key_at, "action": "keys", "keys": "1234#"}]
    records = run(scenario(steps, until_s=key_at + 3), tmp_path)
    assert ("no_input" in prompts(records)) is reprompted
    assert one(records, "pin_checked")["status"] == "ok"


@pytest.mark.parametrize(("balance", "allowed"), [(8, True), (7, False)])
def test_debit_needs_the_price_of_one_minute(tmp_path, balance, allowed):
    world = {"accounts": {"debit:A1001": {"balance_cents": balance}}}
    records = run(scenario(dial_steps(), [party(HOME, answer_after_rings=None)], until_s=20, world=world), tmp_path)
    assert bool(of(records, "dial")) is allowed


@pytest.mark.parametrize(("calls_per_day", "second_allowed"), [(2, True), (1, False)])
def test_calls_per_day_edge(tmp_path, calls_per_day, second_allowed):
    steps = dial_steps() + [{"at_s": 30.0, "action": "hang_up"}] + dial_steps(t0=40.0)
    parties = [
        {
            "number": HOME,
            "answer_after_rings": 0,
            "actions": [{"after_answer_s": 1.0, "do": "press", "keys": "1"}, {"after_answer_s": 5.0, "do": "hang_up"}],
        }
    ]
    records = run(
        scenario(steps, parties, until_s=70, rules={"limits": {"calls_per_day": calls_per_day, "min_wait_s": 0}}),
        tmp_path,
    )
    assert len(of(records, "dial")) == (2 if second_allowed else 1)


def test_two_wrong_pins_then_the_right_one_still_calls(tmp_path):
    steps = [
        {"at_s": 0.5, "action": "lift"},
        {"at_s": 2.0, "action": "keys", "keys": "9999#"},
        {"at_s": 6.0, "action": "keys", "keys": "9999#"},
        {"at_s": 10.0, "action": "keys", "keys": "1234#"},
    ]
    records = run(scenario(steps, until_s=15), tmp_path)
    assert [r["status"] for r in of(records, "pin_checked")] == ["wrong", "wrong", "ok"]
    assert of(records, "state", state="call_type")


@pytest.mark.parametrize(("after_s", "cost_played"), [(5.9, False), (6.1, True)])
def test_staying_on_the_line_edge(tmp_path, after_s, cost_played):
    """The cost plays when the called party stays silent for the whole choice wait (6 s) after the options."""
    first = run(scenario(dial_steps(), [party(HOME)], until_s=60), tmp_path / "probe")
    intro_end = one(first, "prompt", id="cp_cost")["t_ms"] / 1000 - 6.0
    answered = one(first, "line_answered")["t_ms"] / 1000
    press_at = intro_end + after_s - answered - 0.1  # the key's tone is recognised within ~0.1 s
    records = run(
        scenario(dial_steps(), [party(HOME, {"after_answer_s": press_at, "do": "press", "keys": "1"})], until_s=60),
        tmp_path / "run",
    )
    assert ("cp_cost" in prompts(records, "line")) is cost_played
