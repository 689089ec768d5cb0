"""The called party's side: who is calling, the options, the cost, a confirmed block, a machine that answered.

A sub-machine of the call flow (machine.py). It owns the called party's language, choices and the speech run
that tells a person from a machine; it ends with `Accepted` or `AttemptOver`.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import ClassVar

import numpy as np

from firmware.commands import TimerExpired
from firmware.handset import messages as m
from firmware.handset.far_end import SpeechRun
from firmware.handset.parts import (
    END_REASONS,
    Accepted,
    Attempt,
    AttemptOver,
    KeyHandlers,
    LineSent,
    Part,
    PutDown,
    States,
    Step,
    Transitions,
)
from firmware.handset.policy import FlowPolicy
from firmware.handset.voice import Voice, other
from firmware.prompts import speech
from hal.audio import AudioFrame
from hal.events import Event
from hal.line import LineDigit, LineHungUp


class PartyTimer(StrEnum):
    INPUT = "handset.party.input"


STATES: States = [
    "waiting",
    {"name": "called_party", "on_enter": "_enter_called_party"},
    {"name": "block_confirm", "on_enter": "_enter_block_confirm"},
    "done",
]
TRANSITIONS: Transitions = [
    {"trigger": "_begin", "source": "waiting", "dest": "called_party"},
    {"trigger": "_block_pressed", "source": "called_party", "dest": "block_confirm"},
    {"trigger": "_block_cancelled", "source": "block_confirm", "dest": "called_party"},
    {"trigger": "_finish", "source": ["called_party", "block_confirm"], "dest": "done"},
]


class CalledParty(Part[PartyTimer]):
    """Options: 1 accept, 2 decline (or hang up: it costs nothing), 3 or silence the cost, 8 the other language,
    9 then 9 again block all calls from the facility; a wrong key or silence repeats, then ends politely."""

    VISIBLE: ClassVar[frozenset[str]] = frozenset({"called_party", "block_confirm"})
    _block_pressed: Callable[[], bool]
    _block_cancelled: Callable[[], bool]
    _finish: Callable[[], bool]

    def __init__(self, policy: FlowPolicy, voice: Voice, attempt: Attempt, name: np.ndarray) -> None:
        super().__init__(STATES, TRANSITIONS, PartyTimer)
        self.policy = policy
        self.timing = policy.timing
        self.voice = voice
        self.attempt = attempt
        self.check = attempt.check
        self.name = name
        self.language = attempt.language
        self.choices = 0
        self.cost_heard = False
        self.speech_run: SpeechRun | None = None
        self._keys: KeyHandlers = {"called_party": self._option, "block_confirm": self._block_key}
        self._silence: dict[str, Callable[[], None]] = {
            "called_party": self._silent,
            "block_confirm": self._cancel_block,
        }

    def handle(self, event: Event) -> list[Step]:
        self.now = event.at
        match event:
            case LineDigit() if self.state in self._keys:
                self.voice.quiet("line", self.now)
                self.speech_run = self.speech_run or self._new_speech_run()
                self._keys[self.state](event.digit)
            case TimerExpired():
                if self._timers.fired(event.name) is PartyTimer.INPUT and self.state in self._silence:
                    self._silence[self.state]()
            case AudioFrame(source="line") if self.state == "called_party" and self.speech_run is not None:
                if self.speech_run.feed(event.samples, event.at) >= self.timing.machine_speech_s:
                    self._not_connected("answering_machine", "answering_machine")
            case LineSent() if self.speech_run is not None:
                self.speech_run.sent(event.samples, event.at)
            case LineHungUp() if self.state in self.VISIBLE:
                self._over(END_REASONS[event.cause], ("call_declined", "hang_up_now"))
            case PutDown() if self.state in self.VISIBLE:
                self._over(event.reason)
        return self._take()

    def _enter_called_party(self) -> None:
        if self.speech_run is None:
            self.speech_run = self._new_speech_run()
            self._introduce()
        else:
            self._say(["cp_options"])
        self._wait_choice()

    def _new_speech_run(self) -> SpeechRun:
        t = self.timing
        return SpeechRun(t.speech_level_dbm0, t.speech_pause_s, t.echo_return_loss_db, t.echo_path_s)

    def _introduce(self) -> None:
        recorded = self.check.recorded if self.check else True
        self._say(
            [
                "cp_call_from",
                "inmate_name",
                "cp_inmate_at",
                f"facility.{self.policy.facility_id}",
                f"cp_type_{self.attempt.call_type}",
                "cp_monitored" if recorded else "cp_not_recorded",
                "cp_options",
            ]
        )
        self._emit(*self.voice.say(["cp_party_language"], self.now, other(self.language), to="line"))

    def _option(self, digit: str) -> None:
        match digit:
            case "1":
                self._finish()
                self._emit(Accepted(self.attempt))
            case "2":
                self._say(["cp_declined"])
                self._not_connected("declined", "call_declined")
            case "3":
                self._tell_cost()
            case "8":
                self.language = other(self.language)
                self._introduce()
                self._wait_choice()
            case "9":
                self._block_pressed()
            case _:
                self._retry(["cp_invalid", "cp_options"])

    def _block_key(self, digit: str) -> None:
        if digit == "9":
            a = self.attempt
            self._emit(m.BlockNumber(a.number, "called_party", a.inmate_id, a.call_id))
            self._say(["cp_blocked"])
            self._not_connected("blocked_by_called_party", "call_blocked_by_party")
        elif digit == "*":
            self._cancel_block()
        else:
            self._say(["cp_invalid", "cp_block_confirm"])
            self._wait_choice(self.timing.block_confirm_s)

    def _cancel_block(self) -> None:
        self._block_cancelled()

    def _tell_cost(self) -> None:
        """The price per minute (and of the first minute when it differs), then of the longest call allowed:
        "A call of fifteen minutes costs one dollar and twenty cents" (47 CFR 64.710: the whole cost)."""
        check = self.check
        lang = self.language
        if check is None or (check.first_minute_cents == 0 and check.per_minute_cents == 0):
            said = ["cp_cost_free"]
        elif check.first_minute_cents == check.per_minute_cents:
            said = ["cp_cost", *speech.money(check.per_minute_cents, lang), "cp_cost_per_minute"]
        else:
            said = [
                "cp_cost_first_minute",
                *speech.money(check.first_minute_cents, lang),
                "cp_cost_then",
                *speech.money(check.per_minute_cents, lang),
                "cp_cost_per_minute",
            ]
        if check is not None and check.full_call_s > 0 and check.per_minute_cents > 0:
            said += [
                "cp_cost_call_of",
                *speech.duration(check.full_call_s, lang),
                "cp_cost_costs",
                *speech.money(check.full_call_cents, lang),
            ]
        self._say([*said, "cp_options"])
        self.cost_heard = True
        self._wait_choice()

    def _silent(self) -> None:
        """Staying on the line: the first time it plays the cost, after that the options again, then goodbye."""
        if not self.cost_heard:
            self.choices += 1
            self._tell_cost()
            return
        self._retry(["cp_options"])

    def _retry(self, ids: list[str]) -> None:
        self.choices += 1
        if self.choices > self.timing.called_party_repeats + 1:
            self._say(["cp_no_choice"])
            self._not_connected("no_choice", "call_declined")
            return
        self._say(ids)
        self._wait_choice()

    def _enter_block_confirm(self) -> None:
        self._say(["cp_block_confirm"])
        self._wait_choice(self.timing.block_confirm_s)

    def _not_connected(self, reason: str, tell_inmate: str) -> None:
        """The called party said no (or a machine answered): the inmate hears why, then the attempt ends."""
        self._emit(*self.voice.say([tell_inmate], self.now, self.attempt.language))
        self._over(reason, ("hang_up_now",))

    def _over(self, reason: str, farewell: tuple[str, ...] = ()) -> None:
        self._finish()
        self._emit(AttemptOver(self.attempt, reason, farewell))

    def _say(self, ids: list[str]) -> None:
        """To the called party, in the called party's language."""
        self._emit(*self.voice.say(ids, self.now, self.language, to="line", name=self.name))

    def _wait_choice(self, seconds: float | None = None) -> None:
        at = self.voice.speech_ends("line", self.now) + (seconds or self.timing.called_party_choice_s)
        self._arm(PartyTimer.INPUT, at)
