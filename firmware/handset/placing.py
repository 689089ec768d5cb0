"""From a chosen number to an answer: the rules' check, the call's hold, the recorded name, dialing and ringing.

A sub-machine of the call flow (machine.py). It owns the call check, the recorded name and the ring timeout; it
ends with `Answered` (or an emergency answered) or `AttemptOver` (refused, busy, unreachable, no answer, an
answering machine, or the inmate hung up). A debit or prepaid call the handset can ask the central server about
waits in `holding` for the server's hold (HoldAnswered) or for `hold_wait_s` (the offline caps then decide), and
is checked again with that answer (docs/sync-protocol.md, 11).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from enum import StrEnum
from typing import ClassVar, Literal

import numpy as np

from firmware.commands import TimerExpired
from firmware.handset import messages as m
from firmware.handset.parts import (
    Answered,
    Attempt,
    AttemptOver,
    CallOpened,
    Part,
    PutDown,
    States,
    Step,
    Transitions,
)
from firmware.handset.policy import Timing
from firmware.handset.voice import Voice
from hal.audio import AudioFrame
from hal.events import Event
from hal.line import LineAnswered, LineHungUp, LineProgress


class PlacingTimer(StrEnum):
    NAME_START = "handset.placing.name_start"
    NAME_STOP = "handset.placing.name_stop"
    RING = "handset.placing.ring"
    HOLD = "handset.placing.hold"


STATES: States = [
    "waiting",
    {"name": "checking", "on_enter": "_enter_checking"},
    {"name": "holding", "on_enter": "_enter_holding"},
    {"name": "name_recording", "on_enter": "_enter_name_recording"},
    {"name": "placing", "on_enter": "_enter_placing"},
    "done",
]
TRANSITIONS: Transitions = [
    {"trigger": "_begin", "source": "waiting", "dest": "checking"},
    {"trigger": "_allowed", "source": "checking", "dest": "name_recording"},
    {"trigger": "_hold", "source": "checking", "dest": "holding"},
    {"trigger": "_held", "source": "holding", "dest": "checking"},
    # An emergency call the facility allows is dialed at once and connected when answered.
    {"trigger": "_emergency_allowed", "source": "checking", "dest": "placing"},
    {"trigger": "_name_recorded", "source": "name_recording", "dest": "placing"},
    {"trigger": "_finish", "source": ["checking", "holding", "name_recording", "placing"], "dest": "done"},
]
#: What the network's progress means, and what the inmate hears.
PROGRESS_ENDINGS = {
    "busy": ("busy", "line_busy"),
    "sit": ("not_reachable", "not_reachable"),
    "unreachable": ("not_reachable", "not_reachable"),
    "reorder": ("not_reachable", "not_reachable"),
    # The network gave up ringing (SIP 480/408) before our ring timeout.
    "no_answer": ("no_answer", "no_answer"),
}


class Placing(Part[PlacingTimer]):
    """While the call is being checked, a hang-up waits for the answer (a call may just have been opened)."""

    VISIBLE: ClassVar[frozenset[str]] = frozenset({"checking", "holding", "name_recording", "placing"})
    _allowed: Callable[[], bool]
    _hold: Callable[[], bool]
    _held: Callable[[], bool]
    _emergency_allowed: Callable[[], bool]
    _name_recorded: Callable[[], bool]
    _finish: Callable[[], bool]

    def __init__(self, timing: Timing, voice: Voice, attempt: Attempt) -> None:
        super().__init__(STATES, TRANSITIONS, PlacingTimer)
        self.timing = timing
        self.voice = voice
        self.attempt = attempt
        self.hung_up = False
        self.capturing_name = False
        self.name = np.zeros(0, dtype=np.int16)
        #: The hold asked for, then (once answered or timed out) what the server holds: None for no answer.
        self.hold_needed: m.HoldNeeded | None = None
        self.held: tuple[int | None] | None = None
        self._expiries: dict[PlacingTimer, Callable[[], None]] = {
            PlacingTimer.NAME_START: self._name_starts,
            PlacingTimer.NAME_STOP: self._name_stops,
            PlacingTimer.RING: lambda: self._not_connected("no_answer", "no_answer"),
            PlacingTimer.HOLD: lambda: self._hold_answered(None),
        }

    def handle(self, event: Event) -> list[Step]:
        self.now = event.at
        match event:
            case AudioFrame(source="mic") if self.capturing_name:
                self.name = np.concatenate([self.name, event.samples])
            case TimerExpired():
                timer = self._timers.fired(event.name)
                if timer is not None:
                    self._expiries[timer]()
            case m.CallChecked() if self.state == "checking":
                self._checked(event)
            case m.HoldNeeded() if self.state == "checking":
                self._needs_hold(event)
            case m.HoldAnswered() if self.hold_needed is not None and event.account == self.hold_needed.account:
                self._hold_answered(event.granted_cents)
            case LineProgress() if self.state == "placing" and event.state in PROGRESS_ENDINGS:
                self._not_connected(*PROGRESS_ENDINGS[event.state])
            case LineAnswered() if self.state == "placing":
                self._answered(event.answered_by)
            case LineHungUp() if self.state == "placing":
                self._not_connected("not_reachable", "not_reachable")
            case PutDown():
                self._put_down(event.reason)
        return self._take()

    def _enter_checking(self) -> None:
        a = self.attempt
        if self.held is None:
            self.attempt = replace(a, started_at=self.now)
            self._emit(m.CheckCall(a.inmate_id, a.number, a.call_type))
        else:
            held = self.held[0]
            hold: Literal["granted", "no_answer"] = "no_answer" if held is None else "granted"
            self._emit(m.CheckCall(a.inmate_id, a.number, a.call_type, hold=hold, held_cents=held))

    def _needs_hold(self, needed: m.HoldNeeded) -> None:
        if self.hung_up:  # nothing was opened: the attempt ends here
            self._over("inmate_hung_up")
            return
        self.hold_needed = needed
        self._hold()

    def _enter_holding(self) -> None:
        assert self.hold_needed is not None
        self._emit(m.AskHold(self.hold_needed.account, self.hold_needed.cents, self.hold_needed.ttl_s))
        self._arm(PlacingTimer.HOLD, self.now + self.timing.hold_wait_s)

    def _hold_answered(self, granted_cents: int | None) -> None:
        """The server's answer, or none in time (the timer): the call is checked again with it, once."""
        if self.state != "holding":
            return  # a late answer: the offline caps already decided (the grant is released after the call)
        self._emit(*self._timers.cancel(PlacingTimer.HOLD))
        self.held = (granted_cents,)
        self._held()

    def _checked(self, result: m.CallChecked) -> None:
        self.attempt = replace(
            self.attempt, call_id=result.call_id, check=result, number=result.number or self.attempt.number
        )
        self._emit(CallOpened(result.call_id))
        if self.hung_up:
            self._over("inmate_hung_up")
        elif result.allowed and result.emergency:
            self._emergency_allowed()
        elif result.allowed:
            self._allowed()
        else:
            self._say(self.voice.refusal(result.reason, result.then, result.params, self.attempt.language))
            retry = result.scope if result.scope in ("number", "call_type") else ""
            may_retry = retry and self.attempt.tries < self.timing.number_attempts
            self._over(result.reason, () if may_retry else ("hang_up_now",), retry)

    def _enter_name_recording(self) -> None:
        self._say(["record_name", "tone"])
        self._arm(PlacingTimer.NAME_START, self.voice.speech_ends("ear", self.now))

    def _name_starts(self) -> None:
        if self.state == "name_recording":
            self.capturing_name = True
            self._arm(PlacingTimer.NAME_STOP, self.now + self.timing.name_record_s)

    def _name_stops(self) -> None:
        if self.state == "name_recording":
            self.capturing_name = False
            self._name_recorded()

    def _enter_placing(self) -> None:
        self._say(["please_wait"])
        self._emit(m.Dial(self.attempt.number))
        self._arm(PlacingTimer.RING, self.now + self.timing.ring_timeout_s)

    def _answered(self, answered_by: str) -> None:
        check = self.attempt.check
        if check is not None and check.emergency:
            self._finish()
            self._emit(Answered(self.attempt, self.name, emergency=True))
        elif answered_by == "machine":
            self._not_connected("answering_machine", "answering_machine")
        else:
            self._finish()
            self._emit(Answered(self.attempt, self.name))

    def _put_down(self, reason: str) -> None:
        if self.state == "checking":
            self.hung_up = True  # the answer ends the attempt: a call may just have been opened
        elif self.state in self.VISIBLE:
            self._over(reason)

    def _not_connected(self, reason: str, tell_inmate: str) -> None:
        """The call did not go through: say why, release the line, record the attempt."""
        if self.state != "placing":
            return
        self._say([tell_inmate])
        self._over(reason, ("hang_up_now",))

    def _over(self, reason: str, farewell: tuple[str, ...] = (), retry: str = "") -> None:
        self.capturing_name = False
        self._finish()
        self._emit(AttemptOver(self.attempt, reason, farewell, retry))

    def _say(self, ids: list[str]) -> None:
        self._emit(*self.voice.say(ids, self.now, self.attempt.language))
