"""A connected call from lift to record: charge, announcements, warnings, limits, the inmate's language."""

from __future__ import annotations

import soundfile

from tests.handset.helpers import HOME, dial_steps, of, one, party, press, prompts, run, scenario


def connected_call(tmp_path, talk_until: float, **extra):
    steps = dial_steps() + [{"at_s": talk_until, "action": "hang_up"}]
    return run(scenario(steps, [party(HOME, press(1.0, "1"))], until_s=talk_until + 5, **extra), tmp_path)


def test_accepted_debit_call_is_charged_by_the_started_minute_and_recorded(tmp_path):
    records = connected_call(tmp_path, 100.0, audio=True)
    connected = one(records, "connected")
    assert connected["recorded"] is True
    cdr = one(records, "cdr")
    assert cdr["end_reason"] == "inmate_hung_up" and cdr["call_type"] == "debit"
    talked = cdr["connected_s"]
    minutes = -(-talked // 60)
    assert cdr["billed_minutes"] == minutes
    # demo rates: debit $0.06 + $0.02 facility add-on per minute
    assert one(records, "charge")["cents"] == 8 * minutes
    assert cdr["recording_ref"] == f"recordings/{cdr['call_id']}.flac"
    recording = soundfile.info(tmp_path / cdr["recording_ref"])
    assert recording.channels == 2 and talked - 1 <= recording.duration <= talked + 1, "both legs, all the talk"


def test_announcement_plays_to_both_parties_at_each_interval(tmp_path):
    records = connected_call(tmp_path, 200.0, rules={"announcement": {"interval_s": 60}})
    start = one(records, "connected")["t_ms"]
    times = [r["t_ms"] - start for r in of(records, "prompt", id="announcement")]
    assert times == [60_000, 120_000, 180_000]
    assert all(r["to"] == "both" for r in of(records, "prompt", id="announcement"))


def test_twenty_minute_debit_call_warns_at_two_and_one_minute_and_ends_at_the_limit(tmp_path):
    records = connected_call(tmp_path, 1300.0)
    start = one(records, "connected")["t_ms"]
    assert one(records, "prompt", id="warn.two_minutes")["t_ms"] - start == 18 * 60_000
    assert one(records, "prompt", id="warn.one_minute")["t_ms"] - start == 19 * 60_000
    assert one(records, "prompt", id="end.call_type_limit")["t_ms"] - start == 20 * 60_000
    cdr = one(records, "cdr")
    assert cdr["end_reason"] == "call_type_limit" and cdr["billed_minutes"] == 20


def test_without_the_two_minute_warning_only_one_minute_is_announced(tmp_path):
    records = connected_call(tmp_path, 1300.0, rules={"warnings": {"two_minute": False}})
    assert "warn.two_minutes" not in prompts(records) and "warn.one_minute" in prompts(records)


def test_funds_end_the_call_with_a_warning_first(tmp_path):
    # 40 cents at 8 cents a minute: five minutes
    records = connected_call(tmp_path, 900.0, world={"accounts": {"debit:A1001": {"balance_cents": 40}}})
    start = one(records, "connected")["t_ms"]
    assert one(records, "prompt", id="warn.funds")["t_ms"] - start == 4 * 60_000
    assert one(records, "prompt", id="end.funds")["t_ms"] - start == 5 * 60_000
    assert one(records, "cdr")["end_reason"] == "funds"
    assert one(records, "charge")["cents"] == 40


def test_shut_off_ends_a_call_in_progress_with_a_warning(tmp_path):
    # 21:50 local at virtual time 0: the phones go off at 22:00, whenever the call started
    records = connected_call(tmp_path, 900.0, start="2026-11-24T21:50:00-06:00")
    assert one(records, "prompt", id="warn.shutoff")["t_ms"] == 9 * 60_000
    assert one(records, "prompt", id="end.shutoff")["t_ms"] == 10 * 60_000
    assert one(records, "cdr")["end_reason"] == "shutoff"


def test_far_end_keys_during_the_call_are_logged_and_not_obeyed(tmp_path):
    steps = dial_steps() + [{"at_s": 60.0, "action": "hang_up"}]
    records = run(scenario(steps, [party(HOME, press(1.0, "1"), press(20.0, "29"))], until_s=70), tmp_path)
    assert [r["digit"] for r in of(records, "far_key")] == ["2", "9"]
    assert not of(records, "block") and one(records, "cdr")["end_reason"] == "inmate_hung_up"


def test_attorney_calls_are_not_recorded(tmp_path):
    world = {"inmates": {"A1001": {"pin": "1234", "name": "John Doe", "housing_unit": "B", "attorney_numbers": [HOME]}}}
    records = connected_call(tmp_path, 60.0, world=world)
    assert one(records, "connected")["recorded"] is False
    assert "cp_not_recorded" in prompts(records, "line") and "cp_monitored" not in prompts(records)
    assert not of(records, "recording_start") and one(records, "cdr")["recording_ref"] is None


def test_far_end_hang_up_ends_the_call_and_tells_the_inmate(tmp_path):
    hang = {"after_answer_s": 30.0, "do": "hang_up"}
    records = run(scenario(dial_steps(), [party(HOME, press(1.0, "1"), hang)], until_s=80), tmp_path)
    assert one(records, "cdr")["end_reason"] == "far_end_hung_up"
    assert "far_end_hung_up" in prompts(records, "ear")


def test_star_switches_to_spanish_and_the_choice_is_remembered_for_the_inmate(tmp_path):
    first = [
        {"at_s": 0.5, "action": "lift"},
        {"at_s": 1.0, "action": "keys", "keys": "*"},
        {"at_s": 2.0, "action": "keys", "keys": "1234#"},
        {"at_s": 5.0, "action": "hang_up"},
    ]
    second = [{"at_s": 10.0, "action": "lift"}, {"at_s": 11.0, "action": "keys", "keys": "1234#"}]
    records = run(scenario(first + second, until_s=20), tmp_path)
    choices = of(records, "prompt", id="choose_call_type")
    assert [r["language"] for r in choices] == ["es", "es"]
    assert one(records, "language")["language"] == "es"


def test_a_call_record_is_written_for_every_attempt(tmp_path):
    steps = dial_steps(number="8005551234") + [{"at_s": 20.0, "action": "hang_up"}] + dial_steps(t0=30.0)
    steps.append({"at_s": 80.0, "action": "hang_up"})
    records = run(scenario(steps, [party(HOME, press(1.0, "1"))], until_s=90), tmp_path)
    assert [r["end_reason"] for r in of(records, "cdr")] == ["refuse.toll_free", "inmate_hung_up"]
