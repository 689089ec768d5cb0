"""Choosing how the call is paid, then the number; again after a refusal another number or type could avoid.

A sub-machine of the call flow (machine.py). It owns the call type, the digits and how many numbers were tried
this session; it ends with `NumberChosen` or `GaveUp`.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import ClassVar

from firmware.commands import TimerExpired
from firmware.handset.parts import GaveUp, KeyHandlers, NumberChosen, Part, States, Step, Transitions
from firmware.handset.policy import Timing
from firmware.handset.voice import Voice
from firmware.prompts.catalog import Language
from hal.events import Event, KeyDown

CALL_TYPE_KEYS = {"1": "collect", "2": "direct_bill", "3": "debit", "4": "prepaid"}


class NumberTimer(StrEnum):
    INPUT = "handset.number.input"


STATES: States = [
    "waiting",
    {"name": "call_type", "on_enter": "_enter_call_type"},
    {"name": "number_entry", "on_enter": "_enter_number_entry"},
    "done",
]
TRANSITIONS: Transitions = [
    {"trigger": "_begin", "source": ["waiting", "done"], "dest": "call_type"},
    {"trigger": "_type_chosen", "source": "call_type", "dest": "number_entry"},
    {"trigger": "_other_number", "source": "done", "dest": "number_entry"},
    {"trigger": "_finish", "source": ["call_type", "number_entry"], "dest": "done"},
]


class NumberEntry(Part[NumberTimer]):
    """Keys 1-4 choose collect, direct bill, debit or prepaid; digits, `*` to erase one, `#` or the inter-digit
    wait to end the number. A wrong key or silence asks again, `reprompts` times, then goodbye."""

    VISIBLE: ClassVar[frozenset[str]] = frozenset({"call_type", "number_entry"})
    _type_chosen: Callable[[], bool]
    _other_number: Callable[[], bool]
    _finish: Callable[[], bool]

    def __init__(self, timing: Timing, voice: Voice, language: Language) -> None:
        super().__init__(STATES, TRANSITIONS, NumberTimer)
        self.timing = timing
        self.voice = voice
        self.language = language
        self.call_type = ""
        self.digits = ""
        self.tries = 0
        self.asked = 0
        #: The number is asked for again after a refusal ("enter another number").
        self.retrying = False
        self._keys: KeyHandlers = {"call_type": self._type_key, "number_entry": self._number_key}
        self._silence: dict[str, Callable[[], None]] = {
            "call_type": lambda: self._reprompt(["no_input", "choose_call_type"]),
            "number_entry": self._number_ended,
        }

    def again(self, at: float, what: str) -> list[Step]:
        """After a refusal: "call_type" (choose another type) or "number" (enter another number)."""
        self.now = at
        if what == "call_type":
            self._begin()
        else:
            self.retrying = True
            self._other_number()
        return self._take()

    def handle(self, event: Event) -> list[Step]:
        self.now = event.at
        match event:
            case KeyDown() if self.state in self._keys:
                self.voice.quiet("ear", self.now)
                self._keys[self.state](event.key)
            case TimerExpired():
                if self._timers.fired(event.name) is NumberTimer.INPUT and self.state in self._silence:
                    self._silence[self.state]()
        return self._take()

    def _enter_call_type(self) -> None:
        self.asked = 0
        self.retrying = False
        self._say(["choose_call_type"])
        self._wait_input()

    def _enter_number_entry(self) -> None:
        self.asked = 0
        self.digits = ""
        self._say(["enter_other_number" if self.retrying else "enter_number"])
        self.retrying = False
        self._wait_input()

    def _type_key(self, key: str) -> None:
        if key in CALL_TYPE_KEYS:
            self.call_type = CALL_TYPE_KEYS[key]
            self._type_chosen()
        else:
            self._reprompt(["invalid_key", "choose_call_type"])

    def _number_key(self, key: str) -> None:
        if key == "*":
            if self.digits:
                self.digits = self.digits[:-1]
                self._say(["digit_erased"])
            at = self.voice.speech_ends("ear", self.now) + self.timing.inter_digit_s
            self._arm(NumberTimer.INPUT, at)
        elif key == "#":
            self._submit()
        elif key.isdigit():
            self.digits += key
            self._arm(NumberTimer.INPUT, self.now + self.timing.inter_digit_s)

    def _number_ended(self) -> None:
        if self.digits:
            self._submit()
        else:
            self._reprompt(["no_input", "enter_number"])

    def _submit(self) -> None:
        if not self.digits:
            self._reprompt(["enter_number"])
            return
        self.tries += 1
        self._finish()
        self._emit(NumberChosen(self.call_type, self.digits, self.tries))

    def _reprompt(self, ids: list[str]) -> None:
        """Ask again after no input or a wrong key; after `reprompts` times, say goodbye."""
        self.asked += 1
        if self.asked > self.timing.reprompts:
            self._finish()
            self._emit(GaveUp(("goodbye", "hang_up_now"), self.language))
            return
        self._say(ids)
        self._wait_input()

    def _say(self, ids: list[str]) -> None:
        self._emit(*self.voice.say(ids, self.now, self.language))

    def _wait_input(self) -> None:
        at = self.voice.speech_ends("ear", self.now) + self.timing.first_key_s
        self._arm(NumberTimer.INPUT, at)
