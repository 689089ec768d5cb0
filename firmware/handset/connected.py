"""The connected call: both legs bridged, the announcement, time warnings, limits, three-way and hookflash policy.

A sub-machine of the call flow (machine.py). It owns the talk time, the limit and what causes it, the recording
and what was found during the call; it ends with `AttemptOver` carrying the `Talk` the record bills.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import ClassVar

from firmware.commands import TimerExpired
from firmware.handset import messages as m
from firmware.handset.parts import (
    END_REASONS,
    Attempt,
    AttemptOver,
    Heard,
    LetGo,
    Part,
    PutDown,
    States,
    Step,
    Talk,
    ThreeWayHeard,
    Transitions,
)
from firmware.handset.policy import FlowPolicy
from firmware.handset.voice import Voice
from hal.events import Event, HookFlash
from hal.line import LineDigit, LineHungUp


class TalkTimer(StrEnum):
    ANNOUNCE = "handset.connected.announce"
    CHECKPOINT = "handset.connected.checkpoint"
    WARN = "handset.connected.warn"
    LIMIT = "handset.connected.limit"
    RELEASE = "handset.connected.release"


STATES: States = ["waiting", {"name": "connected", "on_enter": "_enter_connected"}, "done"]
TRANSITIONS: Transitions = [
    {"trigger": "_begin", "source": "waiting", "dest": "connected"},
    {"trigger": "_finish", "source": "connected", "dest": "done"},
]


class ConnectedCall(Part[TalkTimer]):
    """What happens between the called party's acceptance (or an emergency answer) and the end of the call."""

    VISIBLE: ClassVar[frozenset[str]] = frozenset({"connected"})
    _finish: Callable[[], bool]

    def __init__(self, policy: FlowPolicy, voice: Voice, attempt: Attempt) -> None:
        super().__init__(STATES, TRANSITIONS, TalkTimer)
        assert attempt.check is not None, "a call is connected only after the rules allowed it"
        self.policy = policy
        self.timing = policy.timing
        self.voice = voice
        self.attempt = attempt
        self.check = attempt.check
        self.connected_at = 0.0
        self.limit_s, self.limit_cause = self.check.limit_s, self.check.limit_cause
        self.recording = False
        self.end_reason = ""
        self.violations: list[str] = []
        self.threeway_count = 0
        self._expiries: dict[TalkTimer, Callable[[], None]] = {
            TalkTimer.ANNOUNCE: self._announce,
            TalkTimer.CHECKPOINT: self._checkpoint,
            TalkTimer.WARN: self._warn,
            TalkTimer.LIMIT: self._limit_reached,
            TalkTimer.RELEASE: self._over,
        }

    def handle(self, event: Event) -> list[Step]:
        self.now = event.at
        if self.state != "connected":
            return []
        match event:
            case TimerExpired():
                timer = self._timers.fired(event.name)
                if timer is not None:
                    self._expiries[timer]()
            case Heard() if self.recording:
                self._emit(m.RecordFrames(self.attempt.call_id, event.inmate, event.far))
            case LineDigit():
                self._emit(m.FarKey(self.attempt.call_id, event.digit))
            case ThreeWayHeard():
                self._three_way(event)
            case HookFlash() if "end_call" in self.policy.hookflash_actions:
                # Never forwarded to the line; the facility's policy may end the call.
                self.end_reason = "hookflash"
                self._say(["call_ended"], to="both")
                self._release_at(self.voice.speech_ends("ear", self.now))
            case LineHungUp():
                self.end_reason = self.end_reason or END_REASONS[event.cause]
                self._say([END_REASONS[event.cause]])
                self._over()
            case PutDown():
                self.end_reason = self.end_reason or event.reason
                self._over()
        return self._take()

    def _enter_connected(self) -> None:
        check = self.check
        self.connected_at = self.now
        if check.shutoff_in_s is not None:
            until_shutoff = max(check.shutoff_in_s - (self.now - self.attempt.started_at), 0.0)
            if until_shutoff < self.limit_s:
                self.limit_s, self.limit_cause = until_shutoff, "shutoff"
        self._say(["cp_accepted"], to="both")
        self._emit(m.Connected(self.attempt.call_id, self.attempt.number, check.recorded))
        if check.recorded:
            self.recording = True
            self._emit(m.StartRecording(self.attempt.call_id))
        self._arm(TalkTimer.ANNOUNCE, self.now + check.announcement_interval_s)
        self._arm(TalkTimer.LIMIT, self.now + self.limit_s)
        self._arm(TalkTimer.CHECKPOINT, self.now + self.timing.checkpoint_s)
        self._arm_warning()

    def _announce(self) -> None:
        self._say(["announcement"], to="both")
        self._arm(TalkTimer.ANNOUNCE, self.now + self.check.announcement_interval_s)

    def _checkpoint(self) -> None:
        self._emit(m.Checkpoint(self.attempt.call_id, self.now - self.connected_at))
        self._arm(TalkTimer.CHECKPOINT, self.now + self.timing.checkpoint_s)

    def _warnings(self) -> list[tuple[float, list[str]]]:
        """(seconds before the end, prompts) for this call's limit and what causes it."""
        match self.limit_cause:
            case "funds" | "offline_limit":
                return [(60.0, ["warn.funds"])]
            case "shutoff":
                return [(60.0, ["warn.shutoff"])]
        warnings = []
        if self.check.warn_two_minute:
            warnings.append((120.0, ["warn.two_minutes"]))
        if self.check.warn_one_minute:
            warnings.append((60.0, ["warn.one_minute"]))
        return warnings

    def _arm_warning(self) -> None:
        end = self.connected_at + self.limit_s
        upcoming = [end - before for before, _ in self._warnings() if end - before > self.now + 1e-9]
        if upcoming:
            self._arm(TalkTimer.WARN, min(upcoming))

    def _warn(self) -> None:
        end = self.connected_at + self.limit_s
        warnings = self._warnings()
        for before, ids in warnings:
            if abs(end - before - self.now) < 1e-6:
                self._say(ids, to="both")
                if before == min(b for b, _ in warnings):
                    self._say(self._advice_before_the_end(), to="both")
        self._arm_warning()

    def _advice_before_the_end(self) -> list[str]:
        """What the called party must hear before the limit releases the line (how to set up an account)."""
        return [p for p in self.check.after_call if self.voice.known(p)]

    def _limit_reached(self) -> None:
        """At the limit (call type, funds, shut-off) the far end is released and talk time ends; the inmate then
        hears why, and goodbye, alone."""
        self.end_reason = self.limit_cause
        final = f"end.{self.limit_cause}"
        if not self.voice.known(final):
            final = "end.call_type_limit"
        self._emit(LetGo())
        self._stop_recording()
        self.voice.quiet("ear", self.now)
        self._say([final, "goodbye"])
        self._release_at(self.voice.speech_ends("ear", self.now))

    def _three_way(self, heard: ThreeWayHeard) -> None:
        self.threeway_count += 1
        actions = self.policy.threeway.actions(self.threeway_count, heard.switch_heard)
        a = self.attempt
        self._emit(m.ThreeWayDetected(a.call_id, heard.confidence, tuple(actions), heard.evidence, heard.switch_heard))
        if "violation" in actions:
            self.violations.append("three_way")
            self._emit(m.RecordViolation(a.inmate_id, a.call_id, "three_way"))
        if "block_number" in actions:
            self._emit(m.BlockNumber(a.number, "three_way", a.inmate_id, a.call_id))
        if "disconnect" in actions:
            self.end_reason = "three_way"
            self._say(["three_way_disconnect"], to="both")
            ends = max(self.voice.speech_ends("ear", self.now), self.voice.speech_ends("line", self.now))
            self._release_at(ends)
        elif "warn" in actions:
            self._say(["three_way_warning"], to="both")

    def _stop_recording(self) -> None:
        if self.recording:
            self.recording = False
            self._emit(m.StopRecording(self.attempt.call_id))

    def _release_at(self, at: float) -> None:
        self._arm(TalkTimer.RELEASE, at)

    def _over(self) -> None:
        talk = Talk(self.connected_at, self.limit_s, tuple(self.violations), self.recording)
        self._finish()
        self._emit(AttemptOver(self.attempt, self.end_reason, talk=talk))

    def _say(self, ids: list[str], to: str = "ear") -> None:
        """In the inmate's language, to the ear or to both parties."""
        self._emit(*self.voice.say(ids, self.now, self.attempt.language, to=to))
