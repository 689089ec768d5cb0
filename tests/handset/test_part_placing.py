"""Placing alone: the rules' check, the recorded name, dialing, and every way an attempt ends before an answer."""

from __future__ import annotations

import pytest

from firmware.handset import messages as m
from firmware.handset.parts import Answered, Attempt, AttemptOver, CallOpened, PutDown
from firmware.handset.placing import Placing, PlacingTimer
from hal.audio import AudioFrame
from hal.line import LineAnswered, LineHungUp, LineProgress
from tests.handset.parts_kit import (
    TIMING,
    attempt_over,
    check,
    expire,
    of,
    outcome,
    said,
    silence,
    states,
    timer,
    voice,
)


def placing(tries: int = 1) -> tuple[Placing, list]:
    part = Placing(TIMING, voice(), Attempt("A1001", "en", "debit", "5735550101", tries))
    return part, part.start(0.5)


def dialed(part: Placing) -> list:
    """Allowed, the name recorded (with the mouthpiece's frames), the number dialed."""
    return record_name(part, part.handle(check(number="+15735550101")))


def record_name(part: Placing, out: list) -> list:
    out = part.handle(expire(timer(out)))
    stop = timer(out)
    for i in range(round(TIMING.name_record_s / 0.02)):
        part.handle(AudioFrame(stop.at - TIMING.name_record_s + i * 0.02, "mic", silence()))
    return part.handle(expire(stop))


def test_the_call_is_checked_then_the_name_recorded_then_the_number_dialed():
    part, out = placing()
    assert of(out, m.CheckCall) == [m.CheckCall("A1001", "5735550101", "debit")]
    out = part.handle(check(number="+15735550101"))
    assert [o for o in out if isinstance(o, CallOpened)] == [CallOpened("c1")]
    assert states(out) == ["name_recording"] and said(out) == ["record_name", "tone"]
    name_starts = timer(out).at
    out = record_name(part, out)
    assert states(out) == ["placing"] and said(out) == ["please_wait"]
    assert of(out, m.Dial) == [m.Dial("+15735550101")], "the number is dialed as the dial plan wrote it"
    assert timer(out).name is PlacingTimer.RING
    assert timer(out).at == pytest.approx(name_starts + TIMING.name_record_s + TIMING.ring_timeout_s)


def test_an_answer_hands_on_the_attempt_and_the_recorded_name():
    part, _ = placing()
    dialed(part)
    answered = outcome(part.handle(LineAnswered(20.0)))
    assert isinstance(answered, Answered) and not answered.emergency
    assert answered.attempt.call_id == "c1" and answered.attempt.started_at == 0.5
    assert len(answered.name) == round(TIMING.name_record_s / 0.02) * 160


def test_a_refusal_another_number_could_avoid_lets_the_inmate_try_again():
    part, _ = placing(tries=1)
    out = part.handle(check(allowed=False, reason="refuse.toll_free", scope="number"))
    assert said(out) == ["refuse.toll_free"]
    over = outcome([o for o in out if not isinstance(o, CallOpened)])
    assert isinstance(over, AttemptOver)
    assert (over.reason, over.retry, over.farewell) == ("refuse.toll_free", "number", ())


def test_the_last_allowed_try_refused_says_hang_up():
    part, _ = placing(tries=TIMING.number_attempts)
    out = part.handle(check(allowed=False, reason="refuse.toll_free", scope="number"))
    over = [o for o in out if isinstance(o, AttemptOver)][0]
    assert over.farewell == ("hang_up_now",)


def test_a_hang_up_while_checking_waits_for_the_answer_and_ends_with_its_call():
    part, _ = placing()
    assert part.handle(PutDown(0.8, "inmate_hung_up")) == []
    out = part.handle(check())
    over = [o for o in out if isinstance(o, AttemptOver)][0]
    assert over.reason == "inmate_hung_up" and over.attempt.call_id == "c1"
    assert not of(out, m.Dial)


def test_busy_unreachable_and_no_answer_each_say_why():
    for event, reason, prompt in [
        (LineProgress(21.0, "busy"), "busy", "line_busy"),
        (LineProgress(21.0, "sit"), "not_reachable", "not_reachable"),
        (LineHungUp(21.0), "not_reachable", "not_reachable"),
    ]:
        part, _ = placing()
        dialed(part)
        out = part.handle(event)
        assert said(out) == [prompt]
        assert outcome(out) == AttemptOver(part.attempt, reason, ("hang_up_now",))


def test_ringing_past_the_timeout_is_no_answer():
    part, _ = placing()
    out = dialed(part)
    assert part.handle(LineProgress(20.0, "ringing")) == []
    out = part.handle(expire(timer(out)))
    assert said(out) == ["no_answer"]
    assert attempt_over(out).reason == "no_answer"


def test_an_answering_machine_signalled_by_the_network_is_not_connected():
    part, _ = placing()
    dialed(part)
    out = part.handle(LineAnswered(20.0, answered_by="machine"))
    assert said(out) == ["answering_machine"] and attempt_over(out).reason == "answering_machine"


def test_an_allowed_emergency_call_is_dialed_at_once_and_connected_on_answer():
    part, _ = placing()
    out = part.handle(check(emergency=True, number="911"))
    assert states(out) == ["placing"] and of(out, m.Dial) == [m.Dial("911")]
    answered = outcome(part.handle(LineAnswered(3.0, answered_by="machine")))
    assert isinstance(answered, Answered) and answered.emergency
