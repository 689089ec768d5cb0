"""Ending alone: the record is written first, and only its commit leads on (another number, the menu again,
goodbye, or idle); the called party's goodbye is heard before the line is released."""

from __future__ import annotations

from firmware.handset import messages as m
from firmware.handset.ending import Ending
from firmware.handset.parts import AttemptOver, Finished, LetGo, PutDown, Rechoose, Talk
from tests.handset.parts_kit import TIMING, attempt, expire, of, outcome, said, states, timer, voice


def ended(over: AttemptOver, on_hook: bool = False, at: float = 500.0, v=None) -> tuple[Ending, list]:
    ending = Ending(TIMING, v or voice(), "en", on_hook)
    return ending, ending.end(at, over)


def test_a_call_is_recorded_billed_to_its_limit_not_its_goodbye():
    talk = Talk(connected_at=100.0, limit_s=300.0, violations=("three_way",), recording=True)
    _, out = ended(AttemptOver(attempt(), "call_type_limit", talk=talk), at=405.0)
    assert states(out) == ["ending"]
    assert [o for o in out if isinstance(o, LetGo)] == [LetGo(None)]
    assert of(out, m.StopRecording) == [m.StopRecording("c1")]
    assert of(out, m.CallEnded) == [m.CallEnded("c1", "call_type_limit")]
    (record,) = of(out, m.WriteCallRecord)
    assert (record.connected_at, record.ended_at) == (100.0, 400.0)
    assert record.recording == "c1" and record.violations == ("three_way",)


def test_an_attempt_never_connected_has_no_recording_and_ends_now():
    _, out = ended(AttemptOver(attempt(), "busy", ("hang_up_now",)))
    (record,) = of(out, m.WriteCallRecord)
    assert record.connected_at is None and record.ended_at == 500.0 and record.recording is None
    assert not of(out, m.StopRecording)


def test_nothing_is_said_before_the_record_is_committed_then_the_farewell():
    ending, out = ended(AttemptOver(attempt(), "busy", ("hang_up_now",)))
    assert said(out) == []
    assert ending.handle(m.RecordWritten(501.0, "another-call")) == []
    out = ending.handle(m.RecordWritten(501.0, "c1"))
    assert states(out) == ["farewell"] and said(out) == ["hang_up_now"]
    out = ending.handle(expire(timer(out)))
    assert said(out) == ["hang_up_now"], "the reminder repeats until the handset goes down"
    assert outcome(ending.handle(PutDown(600.0, "inmate_hung_up"))) == Finished()


def test_the_usual_goodbye_when_the_attempt_named_none():
    ending, _ = ended(AttemptOver(attempt(), "far_end_hung_up"))
    assert said(ending.handle(m.RecordWritten(501.0, "c1"))) == ["call_ended", "hang_up_now"]


def test_after_a_refusal_another_number_or_call_type_follows_the_commit():
    ending, out = ended(AttemptOver(attempt(), "refuse.toll_free", retry="number"))
    assert not [o for o in out if isinstance(o, Rechoose)]
    assert outcome(ending.handle(m.RecordWritten(501.0, "c1"))) == Rechoose("number")
    ending, _ = ended(AttemptOver(attempt(), "refuse.call_type_disabled", retry="call_type"))
    assert outcome(ending.handle(m.RecordWritten(501.0, "c1"))) == Rechoose("call_type")


def test_no_more_tries_after_the_last_allowed_number():
    last = attempt(tries=TIMING.number_attempts)
    ending, _ = ended(AttemptOver(last, "refuse.toll_free", ("hang_up_now",), retry="number"))
    out = ending.handle(m.RecordWritten(501.0, "c1"))
    assert states(out) == ["farewell"]


def test_a_handset_put_down_before_the_commit_goes_idle_after_it():
    ending, _ = ended(AttemptOver(attempt(), "refuse.toll_free", retry="number"))
    assert ending.handle(PutDown(500.5, "inmate_hung_up")) == []
    assert outcome(ending.handle(m.RecordWritten(501.0, "c1"))) == Finished()


def test_a_declining_party_hears_its_goodbye_before_the_line_is_released():
    v = voice()
    v.say(["cp_declined"], 500.0, "en", to="line")
    _, out = ended(AttemptOver(attempt(), "declined", ("hang_up_now",)), v=v)
    (let_go,) = [o for o in out if isinstance(o, LetGo)]
    assert let_go.after == v.speech_ends("line", 500.0) and let_go.after > 500.0


def test_a_goodbye_without_an_attempt():
    ending = Ending(TIMING, voice(), "es", on_hook=False)
    out = ending.goodbye(10.0, ("goodbye", "hang_up_now"))
    assert states(out) == ["farewell"] and said(out) == ["goodbye", "hang_up_now"]
    assert {c.language for c in of(out, m.PlayPrompt)} == {"es"}
    assert not of(out, m.WriteCallRecord)
