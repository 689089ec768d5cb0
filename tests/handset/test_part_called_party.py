"""CalledParty alone: the introduction, accept, decline, the cost, the other language, a confirmed block,
silence, a hang-up and an answering machine's greeting."""

from __future__ import annotations

import numpy as np

from firmware.handset import messages as m
from firmware.handset.called_party import CalledParty
from firmware.handset.parts import Accepted, AttemptOver, LineSent, PutDown
from hal.audio import AudioFrame
from hal.line import LineDigit, LineHungUp
from tests.handset.parts_kit import (
    TIMING,
    attempt,
    attempt_over,
    check,
    expire,
    of,
    outcome,
    policy,
    said,
    states,
    timer,
    voice,
)

NAME = np.full(8000, 300, dtype=np.int16)


def answered() -> tuple[CalledParty, list]:
    party = CalledParty(policy(), voice(), attempt(), NAME)
    return party, party.start(20.0)


def test_the_called_party_hears_who_calls_from_where_and_the_options():
    party, out = answered()
    assert states(out) == ["called_party"]
    assert said(out, to="line") == [
        "cp_call_from",
        "inmate_name",
        "cp_inmate_at",
        "facility.demo-facility",
        "cp_type_debit",
        "cp_monitored",
        "cp_options",
        "cp_party_language",
    ]
    assert of(out, m.PlayPrompt)[1].duration_ms == 1000, "the recorded name is played as recorded"
    assert of(out, m.PlayPrompt)[-1].language == "es"


def test_one_accepts():
    party, _ = answered()
    assert outcome(party.handle(LineDigit(30.0, "1"))) == Accepted(attempt())


def test_two_declines_politely_to_both_sides():
    party, _ = answered()
    out = party.handle(LineDigit(30.0, "2"))
    assert said(out, to="line") == ["cp_declined"] and said(out, to="ear") == ["call_declined"]
    assert outcome(out) == AttemptOver(attempt(), "declined", ("hang_up_now",))


def test_three_tells_the_cost_per_minute_and_of_the_longest_call():
    party = CalledParty(policy(), voice(), attempt(check=check(full_call_s=900, full_call_cents=375)), NAME)
    party.start(20.0)
    out = party.handle(LineDigit(30.0, "3"))
    ids = said(out, to="line")
    assert ids[0] == "cp_cost" and "cp_cost_per_minute" in ids and "cp_cost_call_of" in ids
    assert ids[-1] == "cp_options"


def test_eight_repeats_the_introduction_in_the_other_language():
    party, _ = answered()
    out = party.handle(LineDigit(30.0, "8"))
    prompts = of(out, m.PlayPrompt)
    assert prompts[0].id == "cp_call_from" and prompts[0].language == "es"


def test_nine_then_nine_blocks_the_facility_and_tells_the_inmate():
    party, _ = answered()
    out = party.handle(LineDigit(30.0, "9"))
    assert states(out) == ["block_confirm"] and said(out) == ["cp_block_confirm"]
    out = party.handle(LineDigit(31.0, "9"))
    assert of(out, m.BlockNumber) == [m.BlockNumber("5735550101", "called_party", "A1001", "c1")]
    assert said(out, to="ear") == ["call_blocked_by_party"]
    assert attempt_over(out).reason == "blocked_by_called_party"


def test_a_block_not_confirmed_in_time_goes_back_to_the_options():
    party, _ = answered()
    out = party.handle(LineDigit(30.0, "9"))
    assert timer(out).at > 30.0 + TIMING.block_confirm_s - 0.001
    out = party.handle(expire(timer(out)))
    assert states(out) == ["called_party"] and said(out) == ["cp_options"]


def test_silence_plays_the_cost_then_the_options_then_ends_the_attempt():
    party, out = answered()
    out = party.handle(expire(timer(out)))
    assert "cp_cost" in said(out) or "cp_cost_free" in said(out)
    for _ in range(TIMING.called_party_repeats):
        out = party.handle(expire(timer(out)))
        assert said(out) == ["cp_options"]
    out = party.handle(expire(timer(out)))
    assert said(out, to="line") == ["cp_no_choice"]
    assert attempt_over(out).reason == "no_choice"


def test_a_hang_up_on_either_side_ends_the_attempt():
    party, _ = answered()
    assert outcome(party.handle(LineHungUp(30.0))) == AttemptOver(
        attempt(), "far_end_hung_up", ("call_declined", "hang_up_now")
    )
    party, _ = answered()
    assert outcome(party.handle(PutDown(30.0, "inmate_hung_up"))) == AttemptOver(attempt(), "inmate_hung_up")
    party, _ = answered()
    assert attempt_over(party.handle(LineHungUp(30.0, cause="lost"))).reason == "line_lost"


def test_a_greeting_that_talks_on_is_an_answering_machine_but_the_echo_of_the_introduction_is_not():
    party, _ = answered()
    loud = (np.sin(np.arange(160) * 0.3) * 8000).astype(np.int16)
    t = 30.0
    for _ in range(int(3 / 0.02)):  # our own introduction coming back through the hybrid, quieter
        party.handle(LineSent(t, loud))
        assert party.handle(AudioFrame(t + 0.01, "line", (loud // 4).astype(np.int16))) == []
        t += 0.02
    out: list = []
    while not out and t < 30.0 + 3 + TIMING.machine_speech_s + 1:
        out = party.handle(AudioFrame(t, "line", loud))
        t += 0.02
    assert said(out, to="ear") == ["answering_machine"]
    assert attempt_over(out).reason == "answering_machine"
