"""The end of an attempt: its record committed before anything else, then another try or goodbye.

A sub-machine of the call flow (machine.py). Every attempt, connected or not, ends here in a call record; only
once the store has committed it does the flow offer another number or call type, say goodbye, or go idle.
It ends with `Rechoose` or `Finished`.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import ClassVar

from firmware.commands import TimerExpired
from firmware.handset import messages as m
from firmware.handset.parts import (
    AttemptOver,
    Finished,
    LetGo,
    Part,
    PutDown,
    Rechoose,
    States,
    Step,
    Transitions,
)
from firmware.handset.policy import Timing
from firmware.handset.voice import Voice
from firmware.prompts.catalog import Language
from hal.events import Event

#: Endings after which the called party is still on the line and hears a goodbye before it is released.
PARTY_GOODBYES = frozenset({"declined", "blocked_by_called_party", "no_choice"})


class EndingTimer(StrEnum):
    REMINDER = "handset.ending.reminder"


STATES: States = [
    "waiting",
    {"name": "ending", "on_enter": "_enter_ending"},
    {"name": "farewell", "on_enter": "_enter_farewell"},
    "done",
]
TRANSITIONS: Transitions = [
    {"trigger": "_begin", "source": "waiting", "dest": "ending"},
    {"trigger": "_say_goodbye", "source": "waiting", "dest": "farewell"},
    {"trigger": "_committed", "source": "ending", "dest": "done", "conditions": "_is_on_hook", "after": "_finished"},
    {"trigger": "_committed", "source": "ending", "dest": "done", "conditions": "_may_rechoose", "after": "_rechoose"},
    {"trigger": "_committed", "source": "ending", "dest": "done", "conditions": "_may_retry", "after": "_retry"},
    {"trigger": "_committed", "source": "ending", "dest": "farewell"},
    {"trigger": "_hung_up", "source": "farewell", "dest": "done", "after": "_finished"},
]


class Ending(Part[EndingTimer]):
    """`ending` waits for the record's commit (a hang-up meanwhile is remembered); `farewell` says goodbye and
    reminds the inmate to hang up until the handset goes down."""

    VISIBLE: ClassVar[frozenset[str]] = frozenset({"ending", "farewell"})
    _say_goodbye: Callable[[], bool]
    _committed: Callable[[], bool]
    _hung_up: Callable[[], bool]

    def __init__(self, timing: Timing, voice: Voice, language: Language, on_hook: bool) -> None:
        super().__init__(STATES, TRANSITIONS, EndingTimer)
        self.timing = timing
        self.voice = voice
        self.language = language
        self.on_hook = on_hook
        self.over: AttemptOver | None = None
        self.farewell: tuple[str, ...] = ()

    def end(self, at: float, over: AttemptOver) -> list[Step]:
        """Record the attempt; what follows its commit depends on the hook, the refusal's scope and the tries."""
        self.now = at
        self.over = over
        self.farewell = over.farewell
        return self.start(at)

    def goodbye(self, at: float, farewell: tuple[str, ...]) -> list[Step]:
        """No attempt to record (the inmate was not identified, or chose nothing): goodbye at once."""
        self.now = at
        self.farewell = farewell
        self._say_goodbye()
        return self._take()

    def handle(self, event: Event) -> list[Step]:
        self.now = event.at
        match event:
            case m.RecordWritten() if (
                self.state == "ending" and self.over and event.call_id == self.over.attempt.call_id
            ):
                self._committed()
            case PutDown() if self.state == "ending":
                self.on_hook = True
            case PutDown() if self.state == "farewell":
                self._hung_up()
            case TimerExpired():
                if self._timers.fired(event.name) is EndingTimer.REMINDER and self.state == "farewell":
                    self._remind()
        return self._take()

    def _enter_ending(self) -> None:
        assert self.over is not None
        over, attempt, talk = self.over, self.over.attempt, self.over.talk
        line_ends = self.voice.speech_ends("line", self.now)
        self._emit(LetGo(line_ends if over.reason in PARTY_GOODBYES and line_ends > self.now else None))
        if talk is not None and talk.recording:
            self._emit(m.StopRecording(attempt.call_id))
        reason = over.reason or "inmate_hung_up"
        self._emit(m.CallEnded(attempt.call_id, reason))
        recorded = attempt.check is not None and attempt.check.recorded and talk is not None
        self._emit(
            m.WriteCallRecord(
                call_id=attempt.call_id,
                inmate_id=attempt.inmate_id,
                number=attempt.number,
                call_type=attempt.call_type,
                started_at=attempt.started_at,
                connected_at=talk.connected_at if talk else None,
                # The goodbye played after a limit is not billed: talk time stops at the limit.
                ended_at=min(self.now, talk.connected_at + talk.limit_s) if talk else self.now,
                end_reason=reason,
                recording=attempt.call_id if recorded else None,
                violations=talk.violations if talk else (),
            )
        )

    def _is_on_hook(self) -> bool:
        return self.on_hook

    def _tries_left(self) -> bool:
        return self.over is not None and self.over.attempt.tries < self.timing.number_attempts

    def _may_rechoose(self) -> bool:
        return self.over is not None and self.over.retry == "call_type" and self._tries_left()

    def _may_retry(self) -> bool:
        return self.over is not None and self.over.retry == "number" and self._tries_left()

    def _finished(self) -> None:
        self._emit(Finished())

    def _rechoose(self) -> None:
        self._emit(Rechoose("call_type"))

    def _retry(self) -> None:
        self._emit(Rechoose("number"))

    def _enter_farewell(self) -> None:
        self._say(list(self.farewell) or ["call_ended", "hang_up_now"])
        self._arm_reminder()

    def _remind(self) -> None:
        self._say(["hang_up_now"])
        self._arm_reminder()

    def _arm_reminder(self) -> None:
        at = self.voice.speech_ends("ear", self.now) + self.timing.hang_up_reminder_s
        self._arm(EndingTimer.REMINDER, at)

    def _say(self, ids: list[str]) -> None:
        self._emit(*self.voice.say(ids, self.now, self.language))
