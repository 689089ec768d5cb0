"""Three-way attempts under each policy, the inmate's hookflash and pulse dialing, inbound calls, the PIN."""

from __future__ import annotations

import pytest

from tests.handset.helpers import HOME, dial_steps, of, one, party, press, prompts, run, scenario

THREE_WAY = {"after_answer_s": 15.0, "do": "three_way", "pattern": "landline_click", "seed": 1}


def three_way_call(tmp_path, first, pattern="landline_click", **threeway):
    steps = dial_steps() + [{"at_s": 150.0, "action": "hang_up"}]
    return run(
        scenario(
            steps,
            [party(HOME, press(1.0, "1"), {**THREE_WAY, "pattern": pattern})],
            until_s=160,
            rules={"threeway": {"first": first, "repeat": first, **threeway}},
        ),
        tmp_path,
    )


def test_warn_policy_warns_both_parties_and_the_call_goes_on(tmp_path):
    records = three_way_call(tmp_path, ["warn"])
    detected = one(records, "three_way")
    assert list(detected["actions"]) == ["warn"]
    # What the detector heard is in the record, for whoever reviews the flagged call.
    assert any(e.startswith(("hookflash", "held line")) for e in detected["evidence"])
    assert one(records, "prompt", id="three_way_warning")["to"] == "both"
    assert one(records, "cdr")["end_reason"] == "inmate_hung_up"


def test_disconnect_policy_tells_both_parties_and_ends_the_call(tmp_path):
    records = three_way_call(tmp_path, ["disconnect"])
    assert one(records, "prompt", id="three_way_disconnect")["to"] == "both"
    assert one(records, "cdr")["end_reason"] == "three_way"


def test_block_policy_blocks_the_number(tmp_path):
    records = three_way_call(tmp_path, ["block_number"])
    assert one(records, "block")["source"] == "three_way"


def test_violation_policy_records_a_violation_against_the_pin(tmp_path):
    records = three_way_call(tmp_path, ["violation"])
    violation = one(records, "violation")
    assert violation["inmate_id"] == "A1001" and violation["kind"] == "three_way"
    assert one(records, "cdr")["violations"] == ["three_way"]


def test_enforcing_on_the_switch_ends_a_hookflash_call_and_only_logs_a_held_line_alone(tmp_path):
    """`enforce_on = "flash_or_tones"`: the hookflash attempt is disconnected; a mobile hold without a click (to a
    mute's silence) is logged, with what was heard, and the call goes on (no warning was asked for)."""
    flash = three_way_call(tmp_path / "flash", ["disconnect"], enforce_on="flash_or_tones")
    detected = one(flash, "three_way")
    assert detected["switch_heard"] is True and list(detected["actions"]) == ["disconnect"]
    assert one(flash, "cdr")["end_reason"] == "three_way"
    held = three_way_call(tmp_path / "held", ["disconnect"], pattern="mobile_no_click", enforce_on="flash_or_tones")
    detected = one(held, "three_way")
    assert detected["switch_heard"] is False and list(detected["actions"]) == []
    assert detected["evidence"][0].startswith("held line")
    assert not of(held, "prompt", id="three_way_disconnect")
    assert one(held, "cdr")["end_reason"] == "inmate_hung_up"


def test_a_plain_conversation_is_not_taken_for_three_way(tmp_path):
    talk = {"after_answer_s": 15.0, "do": "talk", "pattern": "plain", "seed": 1, "seconds": 30}
    steps = dial_steps() + [{"at_s": 80.0, "action": "hang_up"}]
    records = run(scenario(steps, [party(HOME, press(1.0, "1"), talk)], until_s=90), tmp_path)
    assert not of(records, "three_way")


@pytest.mark.parametrize(
    ("actions", "ends", "reported"),
    [
        ([], False, False),
        (["report"], False, True),
        (["end_call"], True, False),
    ],
)
def test_hookflash_policy_and_never_a_dial_tone(tmp_path, actions, ends, reported):
    steps = dial_steps() + [{"at_s": 40.0, "action": "flash", "ms": 600}, {"at_s": 80.0, "action": "hang_up"}]
    records = run(
        scenario(steps, [party(HOME, press(1.0, "1"))], until_s=90, rules={"hookflash": {"actions": actions}}), tmp_path
    )
    assert one(records, "hook_flash")
    assert len(of(records, "dial")) == 1, "a flash must never reach the line"
    assert bool(of(records, "incident", incident="hookflash")) is reported
    assert (one(records, "cdr")["end_reason"] == "hookflash") is ends


def test_pulse_dialing_on_the_hookswitch_is_reported(tmp_path):
    steps = dial_steps() + [{"at_s": 40.0, "action": "pulses", "count": 4}]
    records = run(scenario(steps, [party(HOME, press(1.0, "1"))], until_s=60), tmp_path)
    assert one(records, "incident", incident="pulse_dialing")["detail"]["pulses"] == 4
    assert len(of(records, "dial")) == 1


def test_inbound_calls_are_never_answered(tmp_path):
    records = run(scenario([{"at_s": 1.0, "action": "incoming", "caller": "5735550199"}], until_s=10), tmp_path)
    assert one(records, "incident", incident="line_incoming")
    assert not of(records, "state", state="connected") and not of(records, "dial")


def test_three_wrong_pins_lock_out(tmp_path):
    steps = [{"at_s": 0.5, "action": "lift"}] + [
        {"at_s": 2.0 + 4 * i, "action": "keys", "keys": "9999#"} for i in range(3)
    ]
    records = run(scenario(steps, until_s=30), tmp_path)
    assert prompts(records).count("pin_wrong") == 2 and "refuse.locked_out" in prompts(records)
    assert of(records, "state", state="farewell") and not of(records, "check")


def test_no_input_reprompts_twice_then_says_goodbye(tmp_path):
    records = run(scenario([{"at_s": 0.5, "action": "lift"}], until_s=120), tmp_path)
    assert prompts(records).count("no_input") == 2 and "goodbye" in prompts(records)


def test_star_erases_the_last_digit_of_the_number(tmp_path):
    steps = dial_steps(number="5735550109*1")  # a 9 by mistake, erased, then the 1
    records = run(scenario(steps, [party(HOME, answer_after_rings=None)], until_s=30), tmp_path)
    assert "digit_erased" in prompts(records) and one(records, "dial")["number"] == HOME


@pytest.mark.parametrize(("gap_s", "dialed"), [(4.9, HOME), (5.1, "573555")])
def test_inter_digit_timeout_edges(tmp_path, gap_s, dialed):
    """The last of the first six digits goes down at 5.2 s; the next comes `gap_s` later (timeout 5 s)."""
    steps = dial_steps()[:3] + [
        {"at_s": 4.0, "action": "keys", "keys": "573555", "gap_ms": 120},
        {"at_s": 5.2 + gap_s, "action": "keys", "keys": "0101#"},
    ]
    records = run(scenario(steps, [party(HOME, answer_after_rings=None)], until_s=30), tmp_path)
    assert of(records, "check")[0]["number"] == dialed


def test_a_tone_dialer_held_to_the_mouthpiece_is_reported(tmp_path):
    steps = dial_steps() + [{"at_s": 30.0, "action": "tone_dialer", "keys": "72"}, {"at_s": 36.0, "action": "hang_up"}]
    records = run(scenario(steps, [party(HOME, press(1.0, "1"))], until_s=40, audio=True), tmp_path)
    assert [r["detail"]["digit"] for r in of(records, "incident", incident="mouthpiece_dtmf")] == ["7", "2"]
    assert not of(records, "far_key")


@pytest.mark.parametrize("pattern", ["mute", "hold_button", "call_waiting"])
def test_what_families_do_on_a_call_is_not_taken_for_three_way(tmp_path, pattern):
    """Muting, the hold button and call waiting are the false disconnects families report."""
    act = {"after_answer_s": 15.0, "do": "mute", "pattern": pattern, "seed": 3, "seconds": 40}
    steps = dial_steps() + [{"at_s": 90.0, "action": "hang_up"}]
    records = run(scenario(steps, [party(HOME, press(1.0, "1"), act)], until_s=100), tmp_path)
    assert not of(records, "three_way") and one(records, "cdr")["end_reason"] == "inmate_hung_up"


def test_hanging_up_while_the_called_party_listens_ends_the_attempt_without_charge(tmp_path):
    steps = dial_steps() + [{"at_s": 25.0, "action": "hang_up"}]
    records = run(scenario(steps, [party(HOME)], until_s=40), tmp_path)
    cdr = one(records, "cdr")
    assert cdr["end_reason"] == "inmate_hung_up" and cdr["charge_cents"] == 0
    assert one(records, "line_release") and of(records, "state", state="idle")
