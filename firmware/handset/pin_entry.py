"""Identification: the phone check, then the PIN (or the inmate number then the PIN), in either language.

A sub-machine of the call flow (machine.py). It owns what was typed, the tries and the language; it ends with
`Identified(inmate_id, language)` or `GaveUp(farewell)`.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import ClassVar

from firmware.commands import TimerExpired
from firmware.handset import messages as m
from firmware.handset.parts import GaveUp, Identified, KeyHandlers, Part, States, Step, Transitions
from firmware.handset.policy import FlowPolicy
from firmware.handset.voice import Voice, language_of, other
from firmware.prompts.catalog import Language
from hal.events import Event, KeyDown


class PinTimer(StrEnum):
    INPUT = "handset.pin.input"


STATES: States = [
    "waiting",
    {"name": "pin_entry", "on_enter": "_enter_pin_entry"},
    "verifying_pin",
    "done",
]
TRANSITIONS: Transitions = [
    {"trigger": "_begin", "source": "waiting", "dest": "pin_entry"},
    {"trigger": "_entered", "source": "pin_entry", "dest": "verifying_pin"},
    {"trigger": "_rejected", "source": "verifying_pin", "dest": "pin_entry"},
    {"trigger": "_finish", "source": ["pin_entry", "verifying_pin"], "dest": "done"},
]


class PinEntry(Part[PinTimer]):
    """`*` switches the language, `#` or the inter-digit wait ends an entry; a wrong PIN asks again, a refusal
    (locked out, restricted, a shut-off phone) is said with its reason and ends it."""

    VISIBLE: ClassVar[frozenset[str]] = frozenset({"pin_entry", "verifying_pin"})
    _entered: Callable[[], bool]
    _rejected: Callable[[], bool]
    _finish: Callable[[], bool]

    def __init__(self, policy: FlowPolicy, voice: Voice) -> None:
        super().__init__(STATES, TRANSITIONS, PinTimer)
        self.policy = policy
        self.timing = policy.timing
        self.voice = voice
        self.language: Language = language_of(policy.default_language)
        self.language_chosen = False
        self.pin = ""
        self.tries = 0
        self.asked = 0
        self.checking_phone = False
        #: The entry prompt the phone check named: the PIN alone, or the inmate number then the PIN.
        self.ask_prompt = "enter_pin"
        self._keys: KeyHandlers = {"pin_entry": self._pin_key}

    def handle(self, event: Event) -> list[Step]:
        self.now = event.at
        match event:
            case KeyDown() if self.state in self._keys:
                self.voice.quiet("ear", self.now)
                self._keys[self.state](event.key)
            case TimerExpired():
                if self._timers.fired(event.name) is PinTimer.INPUT and self.state == "pin_entry":
                    self._no_more_keys()
            case m.PhoneChecked() if self.state == "pin_entry" and self.checking_phone:
                self._phone_checked(event)
            case m.PinChecked() if self.state == "verifying_pin":
                self._pin_checked(event)
        return self._take()

    def _enter_pin_entry(self) -> None:
        self.pin = ""
        if self.tries == 0:
            # Greet only once the phone is known to be usable: a locked or shut-off phone says so instead.
            self.checking_phone = True
            self._emit(m.CheckPhone())
            return
        self._say([self.ask_prompt])
        self._wait_input()

    def _phone_checked(self, result: m.PhoneChecked) -> None:
        self.checking_phone = False
        if not result.available:
            self.voice.quiet("ear", self.now)
            self._give_up([*self.voice.refusal(result.reason, (), result.params, self.language), "hang_up_now"])
            return
        self.ask_prompt = result.ask
        self._say(["welcome"])
        self._emit(*self.voice.say(["other_language"], self.now, other(self.language)))
        self._say([self.ask_prompt])
        self._wait_input()

    def _pin_key(self, key: str) -> None:
        if key == "*":
            self.language = other(self.language)
            self.language_chosen = True
            self.pin = ""
            self._say([self.ask_prompt])
            self._wait_input()
        elif key == "#":
            self._submit()
        elif key.isdigit():
            # One entry is one try however long: digits past the longest entry are dropped (the entry stays too
            # long, so it is refused) and the entry ends at "#" or the inter-digit wait as any other.
            if len(self.pin) <= self.policy.pin_max_length:
                self.pin += key
            self._arm(PinTimer.INPUT, self.now + self.timing.inter_digit_s)

    def _no_more_keys(self) -> None:
        if self.pin:
            self._submit()
        else:
            self._reprompt(["no_input", self.ask_prompt])

    def _submit(self) -> None:
        if not self.pin:
            self._reprompt([self.ask_prompt])
            return
        pin, self.pin = self.pin, ""
        self._entered()
        self._emit(m.VerifyPin(pin))

    def _pin_checked(self, result: m.PinChecked) -> None:
        self._emit(*self._timers.cancel(PinTimer.INPUT))
        if result.status == "ok":
            if self.language_chosen:
                self._emit(m.RememberLanguage(result.inmate_id, self.language))
            elif result.language:
                self.language = language_of(result.language)
            self._finish()
            self._emit(Identified(result.inmate_id, self.language))
        elif result.status == "wrong":
            self.tries += 1
            self._say(["pin_wrong"])
            self._rejected()
        else:
            self._give_up(
                [*self.voice.refusal(result.status, result.then, result.params, self.language), "hang_up_now"]
            )

    def _reprompt(self, ids: list[str]) -> None:
        """Ask again after no input or a wrong key; after `reprompts` times, say goodbye."""
        self.asked += 1
        if self.asked > self.timing.reprompts:
            self._give_up(["goodbye", "hang_up_now"])
            return
        self._say(ids)
        self._wait_input()

    def _give_up(self, farewell: list[str]) -> None:
        self._finish()
        self._emit(GaveUp(tuple(farewell), self.language))

    def _say(self, ids: list[str]) -> None:
        self._emit(*self.voice.say(ids, self.now, self.language))

    def _wait_input(self) -> None:
        at = self.voice.speech_ends("ear", self.now) + self.timing.first_key_s
        self._arm(PinTimer.INPUT, at)
