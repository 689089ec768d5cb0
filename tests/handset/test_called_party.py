"""The called party's side: who is calling, accept, decline, the cost, block; machines never connected."""

from __future__ import annotations

from typing import Any

from tests.handset.helpers import HOME, dial_steps, of, one, party, press, prompts, run, scenario


def answered(tmp_path, *actions, until_s=120.0, **behaviour):
    return run(scenario(dial_steps(), [party(HOME, *actions, **behaviour)], until_s=until_s), tmp_path)


def test_called_party_hears_who_where_what_kind_and_that_it_is_recorded(tmp_path):
    records = answered(tmp_path, press(1.0, "2"))
    said = prompts(records, "line")
    assert said[:7] == [
        "cp_call_from",
        "inmate_name",
        "cp_inmate_at",
        "facility.demo-facility",
        "cp_type_debit",
        "cp_monitored",
        "cp_options",
    ]


def test_decline_ends_without_charge(tmp_path):
    records = answered(tmp_path, press(1.0, "2"))
    assert one(records, "cdr")["end_reason"] == "declined" and not of(records, "charge")
    assert not of(records, "connected")
    assert "call_declined" in prompts(records, "ear")


def test_hanging_up_at_the_prompt_costs_nothing(tmp_path):
    records = answered(tmp_path, {"after_answer_s": 4.0, "do": "hang_up"})
    cdr = one(records, "cdr")
    assert cdr["end_reason"] == "far_end_hung_up" and cdr["charge_cents"] == 0 and not of(records, "charge")


def test_cost_is_one_key_away_then_accept(tmp_path):
    records = answered(tmp_path, press(1.0, "3"), press(12.0, "1"))
    said = prompts(records, "line")
    cost = said.index("cp_cost")
    # $0.08 a minute: "eight cents per minute"
    assert said[cost + 1 : cost + 4] == ["n_8", "w_cents", "cp_cost_per_minute"]
    assert of(records, "connected")


def test_staying_on_the_line_plays_the_cost(tmp_path):
    records = answered(tmp_path)
    assert "cp_cost" in prompts(records, "line")


def test_no_choice_repeats_the_options_then_ends_politely(tmp_path):
    records = answered(tmp_path, until_s=200)
    said = prompts(records, "line")
    assert said.count("cp_options") >= 3 and said[-1] == "cp_no_choice"
    assert one(records, "cdr")["end_reason"] == "no_choice" and not of(records, "connected")


def test_invalid_key_is_answered_and_the_options_repeat(tmp_path):
    records = answered(tmp_path, press(1.0, "7"), press(10.0, "1"))
    assert "cp_invalid" in prompts(records, "line") and of(records, "connected")


def test_block_with_confirmation_takes_effect_at_once(tmp_path):
    steps = dial_steps() + [{"at_s": 60.0, "action": "hang_up"}] + dial_steps(t0=70.0)
    records = run(scenario(steps, [party(HOME, press(1.0, "9"), press(5.0, "9"))], until_s=100), tmp_path)
    block = one(records, "block")
    assert block["number"] == HOME and block["source"] == "called_party"
    assert "cp_blocked" in prompts(records, "line")
    assert [r["end_reason"] for r in of(records, "cdr")] == ["blocked_by_called_party", "refuse.blocked"]


def test_block_can_be_cancelled_with_star(tmp_path):
    records = answered(tmp_path, press(1.0, "9"), press(5.0, "*"), press(8.0, "1"))
    assert not of(records, "block") and of(records, "connected")


def test_answering_machine_reported_by_the_network_is_not_connected(tmp_path):
    records = answered(tmp_path, answered_by="machine", network_reports_machine=True)
    assert one(records, "cdr")["end_reason"] == "answering_machine" and not of(records, "connected")
    assert not of(records, "prompt", to="line")


def test_answering_machine_heard_by_its_long_greeting_is_not_connected(tmp_path):
    records = answered(tmp_path, answered_by="machine")
    assert one(records, "cdr")["end_reason"] == "answering_machine" and not of(records, "connected")
    assert "answering_machine" in prompts(records, "ear")


def test_a_person_saying_hello_is_not_taken_for_a_machine(tmp_path):
    records = answered(tmp_path, {"after_answer_s": 0.5, "do": "speak", "file": "hello-world"}, press(6.0, "1"))
    assert of(records, "connected")


def test_busy_no_answer_and_sit_are_told_to_the_inmate(tmp_path):
    cases: list[tuple[str, dict[str, Any], str, str]] = [
        ("5735550111", {"busy": True}, "busy", "line_busy"),
        ("5735550112", {"answer_after_rings": None}, "no_answer", "no_answer"),
        ("5735550113", {"kind": "disconnected"}, "not_reachable", "not_reachable"),
    ]
    for number, behaviour, reason, prompt in cases:
        data_dir = tmp_path / reason
        records = run(scenario(dial_steps(number), [{"number": number, **behaviour}], until_s=90), data_dir)
        assert one(records, "cdr")["end_reason"] == reason and prompt in prompts(records, "ear")


def test_no_answer_edges(tmp_path):
    """The ring timeout is 45 s: an answer after 7 rings (42 s) connects, after 8 rings (48 s) it never comes."""
    for rings, connects in ((7, True), (8, False)):
        records = run(
            scenario(dial_steps(), [party(HOME, press(1.0, "1"), answer_after_rings=rings)], until_s=120),
            tmp_path / str(rings),
        )
        assert bool(of(records, "connected")) is connects


def test_busy_and_sit_are_heard_from_the_tones_when_the_network_does_not_signal_them(tmp_path):
    for number, behaviour, reason in [
        ("5735550121", {"busy": True}, "busy"),
        ("5735550122", {"sit": True}, "not_reachable"),
    ]:
        party_ = {"number": number, "signals_progress": False, **behaviour}
        records = run(scenario(dial_steps(number), [party_], until_s=60), tmp_path / reason)
        assert not of(records, "line_progress", state=reason)
        assert one(records, "cdr")["end_reason"] == reason


def test_the_called_party_can_switch_the_prompts_to_spanish(tmp_path):
    records = answered(tmp_path, press(1.0, "8"), press(6.0, "1"))
    spanish = [r for r in of(records, "prompt", to="line") if r["language"] == "es"]
    assert "cp_options" in [r["id"] for r in spanish] and of(records, "connected")


def test_the_called_party_hears_the_whole_goodbye_before_the_line_is_released(tmp_path):
    from firmware.prompts.catalog import shipped

    records = answered(tmp_path, press(1.0, "2"))
    goodbye = one(records, "prompt", id="cp_declined")
    released = one(records, "line_release")["t_ms"]
    assert released - goodbye["t_ms"] >= 1000 * shipped().duration("cp_declined", "en") - 1
    assert one(records, "cdr")["t_ms"] < released, "the record is committed first"


FIRST_MINUTE_DEARER = {"rating": {"minimum_billed_s": 120}}


def cost_words(records, language):
    """What the called party heard about the cost, in the order heard, as text."""
    line = [r for r in of(records, "prompt") if r["to"] == "line" and r["language"] == language]
    start = next(i for i, r in enumerate(line) if r["id"] in ("cp_cost", "cp_cost_first_minute"))
    end = next(i for i, r in enumerate(line) if i > start and r["id"] == "cp_cost_per_minute")
    return " ".join(r["text"] for r in line[start : end + 1])


def test_a_first_minute_priced_apart_is_said_with_the_per_minute_price(tmp_path):
    # Two minutes billed at least at $0.08: the first minute costs $0.16, each further one $0.08.
    records = run(
        scenario(dial_steps(), [party(HOME, press(1.0, "3"), press(14.0, "1"))], rules=FIRST_MINUTE_DEARER), tmp_path
    )
    assert cost_words(records, "en") == "The first minute costs sixteen cents then eight cents per minute."
    assert of(records, "connected")


def test_the_first_minute_and_per_minute_prices_in_spanish(tmp_path):
    records = run(
        scenario(dial_steps(), [party(HOME, press(1.0, "8"), press(16.0, "3"))], rules=FIRST_MINUTE_DEARER), tmp_path
    )
    assert cost_words(records, "es") == "El primer minuto cuesta dieciséis centavos luego ocho centavos por minuto."


def test_one_price_for_every_minute_is_said_once(tmp_path):
    records = answered(tmp_path, press(1.0, "3"), press(12.0, "1"))
    assert cost_words(records, "en") == "This call costs eight cents per minute."
