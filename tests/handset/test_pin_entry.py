"""PIN entry at the keypad: one entry is one try however long, and a locked phone says so at the lift."""

from __future__ import annotations

from tests.handset.helpers import of, prompts, run, scenario


def test_a_too_long_entry_is_one_try(tmp_path):
    steps = [
        {"at_s": 0.5, "action": "lift"},
        {"at_s": 2.0, "action": "keys", "keys": "1234567890123#"},  # 13 digits: more than max_length 9
        {"at_s": 8.0, "action": "keys", "keys": "9999#"},
    ]
    records = run(scenario(steps, until_s=20), tmp_path)
    assert prompts(records).count("pin_wrong") == 2  # two entries, two tries: the phone is not yet locked
    assert "refuse.locked_out" not in prompts(records) and len(of(records, "pin_checked")) == 2


def lift_after_lockout(tmp_path):
    wrong = [{"at_s": 2.0 + 4 * i, "action": "keys", "keys": "9999#"} for i in range(3)]
    steps = [
        {"at_s": 0.5, "action": "lift"},
        *wrong,
        {"at_s": 25.0, "action": "hang_up"},
        {"at_s": 30.0, "action": "lift"},
        {"at_s": 31.0, "action": "keys", "keys": "1234#"},
    ]
    return run(scenario(steps, until_s=60), tmp_path)


def test_a_locked_phone_says_so_at_the_lift_and_for_how_long(tmp_path):
    records = lift_after_lockout(tmp_path)
    after = [r for r in records if r["t_ms"] >= 30_000]
    said = [r["id"] for r in after if r["event"] == "prompt"]
    assert said[0] == "refuse.locked_out" and "enter_pin" not in said and "welcome" not in said
    # the wait left (900 s lockout from about 10.5 s, lifted at 30 s): "wait for 14 minutes 40 seconds"
    assert said[1] == "wait_for" and "w_minutes" in said
    assert not [r for r in after if r["event"] == "pin_checked"]


def test_a_facility_that_identifies_by_inmate_number_takes_number_then_pin_in_one_entry(tmp_path):
    steps = [{"at_s": 0.5, "action": "lift"}, {"at_s": 2.0, "action": "keys", "keys": "1000011234#"}]
    records = run(
        scenario(
            steps,
            until_s=15,
            rules={"pin": {"identify": "inmate_number", "number_length": 6}},
            world={"inmates": {"A1001": {"pin": "1234", "name": "John Doe", "housing_unit": "B", "number": "100001"}}},
        ),
        tmp_path,
    )
    assert of(records, "pin_checked")[0]["status"] == "ok" and of(records, "pin_checked")[0]["inmate_id"] == "A1001"
    asked = [r["id"] for r in of(records, "prompt") if r["id"].startswith("enter_")]
    assert asked[0] == "enter_number_pin", "the inmate is asked for the number, then the PIN"
