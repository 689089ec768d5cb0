"""ConnectedCall alone: the bridge, the recording, the announcement, the warnings before the limit, the limit,
three-way policy, a hookflash and a hang-up on either side."""

from __future__ import annotations

import pytest

from firmware.commands import StartTimer, TimerExpired
from firmware.handset import messages as m
from firmware.handset.connected import ConnectedCall, TalkTimer
from firmware.handset.parts import AttemptOver, Heard, LetGo, PutDown, Talk, ThreeWayHeard
from firmware.rules.facility import load_rules
from firmware.rules.facility_policies import ThreeWayPolicy
from hal.events import HookFlash
from hal.line import LineDigit, LineHungUp
from tests.handset.parts_kit import (
    attempt,
    attempt_over,
    check,
    expire,
    of,
    outcome,
    policy,
    said,
    silence,
    states,
    timer,
    voice,
)

LIMIT = 900.0


def connected(at: float = 100.0, **policy_changes) -> tuple[ConnectedCall, list]:
    call = ConnectedCall(policy(**policy_changes), voice(), attempt(check=check(limit_s=LIMIT)))
    return call, call.start(at)


def timers(out: list) -> dict:
    return {c.name: c.at for c in of(out, StartTimer)}


def test_acceptance_bridges_records_and_arms_the_limit_and_its_warnings():
    call, out = connected()
    assert states(out) == ["connected"] and said(out, to="both") == ["cp_accepted"]
    assert of(out, m.Connected) == [m.Connected("c1", "5735550101", True)]
    assert of(out, m.StartRecording) == [m.StartRecording("c1")]
    armed = timers(out)
    assert armed[TalkTimer.LIMIT] == 100.0 + LIMIT
    assert armed[TalkTimer.WARN] == 100.0 + LIMIT - 120.0


def test_a_recorded_call_records_both_legs_every_tick():
    call, _ = connected()
    out = call.handle(Heard(101.0, silence(), silence()))
    assert [f.call_id for f in of(out, m.RecordFrames)] == ["c1"]


def test_warnings_at_two_minutes_and_one_minute_then_the_limit_ends_talk_time():
    call, out = connected()
    out = call.handle(expire(timer(out)))
    assert said(out, to="both") == ["warn.two_minutes"]
    out = call.handle(expire(timer(out)))
    assert said(out, to="both") == ["warn.one_minute"]
    out = call.handle(m_timer(TalkTimer.LIMIT, 100.0 + LIMIT))
    assert [o for o in out if isinstance(o, LetGo)] == [LetGo()], "the far end is released at the limit"
    assert of(out, m.StopRecording) == [m.StopRecording("c1")]
    assert said(out, to="ear") == ["end.call_type_limit", "goodbye"]
    over = outcome(call.handle(expire(timer(out))))
    assert isinstance(over, AttemptOver) and over.reason == "call_type_limit"
    assert over.talk == Talk(100.0, LIMIT, (), False)


def m_timer(name: TalkTimer, at: float) -> TimerExpired:
    return TimerExpired(at, name)


def test_a_shut_off_sooner_than_the_limit_ends_the_call_at_the_shut_off():
    call = ConnectedCall(policy(), voice(), attempt(started_at=90.0, check=check(limit_s=LIMIT, shutoff_in_s=310.0)))
    out = call.start(100.0)
    assert timers(out)[TalkTimer.LIMIT] == pytest.approx(400.0)
    out = call.handle(expire(timer(out)))
    assert said(out, to="both") == ["warn.shutoff"]


def test_by_default_every_three_way_detection_only_warns_and_the_call_goes_on():
    """The shipped rules (no [threeway] section, or the demo facility's) never end, block or mark a call on the
    detector's word: it also decides some innocent mutes and holds."""
    rules = load_rules(None)
    assert rules.threeway == ThreeWayPolicy()
    call, _ = connected(threeway=rules.threeway)
    for at in (200.0, 300.0, 400.0):
        out = call.handle(ThreeWayHeard(at, 0.99, switch_heard=True))
        assert said(out, to="both") == ["three_way_warning"]
        assert of(out, m.RecordViolation) == of(out, m.BlockNumber) == of(out, StartTimer) == []
    talk = attempt_over(call.handle(PutDown(500.0, "inmate_hung_up"))).talk
    assert talk is not None and talk.violations == ()


def test_a_facility_may_warn_first_and_disconnect_the_next_time():
    call, _ = connected(threeway=ThreeWayPolicy(repeat=["disconnect"]))
    out = call.handle(ThreeWayHeard(200.0, 0.9, switch_heard=False))
    assert said(out, to="both") == ["three_way_warning"]
    out = call.handle(ThreeWayHeard(300.0, 0.9, switch_heard=False))
    assert said(out, to="both") == ["three_way_disconnect"]
    over = attempt_over(call.handle(expire(timer(out))))
    assert over.reason == "three_way"


def test_a_three_way_policy_may_record_a_violation_and_block_the_number():
    call, _ = connected(threeway=ThreeWayPolicy(first=["violation", "block_number"]))
    out = call.handle(ThreeWayHeard(200.0, 0.9, switch_heard=False))
    assert of(out, m.RecordViolation) == [m.RecordViolation("A1001", "c1", "three_way")]
    assert of(out, m.BlockNumber) == [m.BlockNumber("5735550101", "three_way", "A1001", "c1")]
    talk = attempt_over(call.handle(PutDown(250.0, "inmate_hung_up"))).talk
    assert talk is not None and talk.violations == ("three_way",)


def test_enforce_on_flash_or_tones_acts_only_when_the_switch_was_heard():
    """A held line alone (a mute looks the same) gives only the warning the facility asked for; the detection that
    heard a hookflash or bridged tones gets the rest. Both are logged with whether the switch was heard."""
    rules = ThreeWayPolicy(first=["warn", "violation"], repeat=["disconnect"], enforce_on="flash_or_tones")
    call, _ = connected(threeway=rules)
    out = call.handle(ThreeWayHeard(200.0, 0.8, switch_heard=False, evidence=("held line",)))
    assert said(out, to="both") == ["three_way_warning"] and of(out, m.RecordViolation) == []
    assert of(out, m.ThreeWayDetected) == [m.ThreeWayDetected("c1", 0.8, ("warn",), ("held line",), False)]
    out = call.handle(ThreeWayHeard(300.0, 0.8, switch_heard=False))
    assert said(out, to="both") == [] and timers(out) == {}  # the repeat asks for no warning: nothing but the log
    assert of(out, m.ThreeWayDetected) == [m.ThreeWayDetected("c1", 0.8, (), (), False)]
    out = call.handle(ThreeWayHeard(400.0, 0.95, switch_heard=True))
    assert said(out, to="both") == ["three_way_disconnect"]
    assert attempt_over(call.handle(expire(timer(out)))).reason == "three_way"


@pytest.mark.parametrize(
    ("enforce_on", "switch_heard", "actions"),
    [
        ("any", False, ["warn", "violation"]),
        ("any", True, ["warn", "violation"]),
        ("flash_or_tones", False, ["warn"]),
        ("flash_or_tones", True, ["warn", "violation"]),
    ],
)
def test_three_way_actions_by_what_was_heard(enforce_on, switch_heard, actions):
    rules = ThreeWayPolicy(first=["warn", "violation"], enforce_on=enforce_on)
    assert rules.actions(1, switch_heard) == actions


def test_a_hookflash_ends_the_call_only_where_the_facility_says_so():
    call, _ = connected()
    assert call.handle(HookFlash(200.0, 600)) == []
    call, _ = connected(hookflash_actions=("report", "end_call"))
    out = call.handle(HookFlash(200.0, 600))
    assert said(out, to="both") == ["call_ended"]
    assert attempt_over(call.handle(expire(timer(out)))).reason == "hookflash"


def test_the_called_party_keys_are_logged_never_obeyed():
    call, _ = connected()
    out = call.handle(LineDigit(200.0, "9"))
    assert out == [m.FarKey("c1", "9")]


def test_a_hang_up_on_either_side_ends_the_call_with_its_talk_time():
    call, _ = connected()
    out = call.handle(LineHungUp(250.0))
    assert said(out) == ["far_end_hung_up"]
    assert outcome(out) == AttemptOver(
        attempt(check=check(limit_s=LIMIT)), "far_end_hung_up", talk=Talk(100.0, LIMIT, (), True)
    )
    call, _ = connected()
    assert attempt_over(call.handle(PutDown(250.0, "inmate_hung_up"))).reason == "inmate_hung_up"


def test_a_line_the_network_lost_is_told_as_cut_off_not_as_a_hang_up():
    call, _ = connected()
    out = call.handle(LineHungUp(250.0, cause="lost"))
    assert said(out) == ["line_lost"]
    assert attempt_over(out).reason == "line_lost"
