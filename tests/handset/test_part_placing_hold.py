"""Placing alone, on a debit or prepaid call: the central server's hold comes before the call's final check."""

from __future__ import annotations

import pytest

from firmware.commands import CancelTimer
from firmware.handset import messages as m
from firmware.handset.parts import Attempt, AttemptOver, PutDown
from firmware.handset.placing import Placing, PlacingTimer
from tests.handset.parts_kit import TIMING, check, expire, of, said, states, timer, voice

ACCOUNT = "debit:A1001"
ASK = m.CheckCall("A1001", "5735550101", "debit")


def holding() -> tuple[Placing, list]:
    """Checked once: the rules want the server to hold 96 cents first."""
    part = Placing(TIMING, voice(), Attempt("A1001", "en", "debit", "5735550101", 1))
    assert of(part.start(0.5), m.CheckCall) == [ASK]
    return part, part.handle(m.HoldNeeded(0.6, ACCOUNT, 96, 1620))


def test_a_call_that_needs_a_hold_asks_the_server_and_waits_a_bounded_time():
    _part, out = holding()
    assert states(out) == ["holding"]
    assert of(out, m.AskHold) == [m.AskHold(ACCOUNT, 96, 1620)]
    assert not of(out, m.Dial) and not of(out, m.CheckCall)
    assert timer(out).name is PlacingTimer.HOLD and timer(out).at == pytest.approx(0.6 + TIMING.hold_wait_s)


def test_the_servers_grant_is_checked_again_and_then_the_call_goes_on():
    part, _ = holding()
    out = part.handle(m.HoldAnswered(1.0, ACCOUNT, 40))
    assert of(out, m.CheckCall) == [m.CheckCall("A1001", "5735550101", "debit", hold="granted", held_cents=40)]
    assert [o for o in out if isinstance(o, CancelTimer)] == [CancelTimer(PlacingTimer.HOLD)]
    assert states(out) == ["checking"]
    out = part.handle(check(number="+15735550101"))
    assert states(out) == ["name_recording"]
    assert part.attempt.started_at == 0.5, "the attempt started at the first check"


def test_no_answer_in_time_is_an_event_and_the_offline_caps_decide():
    part, out = holding()
    out = part.handle(expire(timer(out)))
    assert of(out, m.CheckCall) == [m.CheckCall("A1001", "5735550101", "debit", hold="no_answer")]
    assert part.handle(m.HoldAnswered(20.0, ACCOUNT, 96)) == [], "a late answer changes nothing"
    out = part.handle(check(allowed=False, reason="refuse.offline_limit", scope="number"))
    assert said(out) == ["refuse.offline_limit"]


def test_a_grant_too_small_refuses_with_the_reason_the_inmate_hears():
    part, _ = holding()
    part.handle(m.HoldAnswered(1.0, ACCOUNT, 4))
    out = part.handle(check(allowed=False, reason="refuse.insufficient_funds", scope="inmate"))
    assert said(out) == ["refuse.insufficient_funds"]
    over = [o for o in out if isinstance(o, AttemptOver)][0]
    assert over.farewell == ("hang_up_now",) and not of(out, m.Dial)


def test_an_answer_about_another_account_is_not_this_calls():
    part, _ = holding()
    assert part.handle(m.HoldAnswered(1.0, "debit:A1002", 96)) == []
    assert part.state == "holding"


def test_hanging_up_while_holding_ends_the_attempt_with_nothing_opened():
    part, _ = holding()
    out = part.handle(PutDown(1.0, "inmate_hung_up"))
    over = [o for o in out if isinstance(o, AttemptOver)][0]
    assert over.reason == "inmate_hung_up" and over.attempt.call_id == ""
    assert part.stop() == [CancelTimer(PlacingTimer.HOLD)], "the coordinator's stop ends the wait"


def test_hanging_up_while_checking_then_a_hold_needed_ends_without_asking():
    part = Placing(TIMING, voice(), Attempt("A1001", "en", "debit", "5735550101", 1))
    part.start(0.5)
    assert part.handle(PutDown(0.55, "inmate_hung_up")) == []
    out = part.handle(m.HoldNeeded(0.6, ACCOUNT, 96, 1620))
    assert not of(out, m.AskHold)
    assert [o.reason for o in out if isinstance(o, AttemptOver)] == ["inmate_hung_up"]
