"""Who typed a PIN: the kiosk asks the same identity rules as the handset, so a lockout is shared.

The answer becomes a LoginResult event (inmate and language, wrong PIN with attempts left, locked until a time,
restricted until a date, or the roster unavailable), and the PIN policy's lengths bound what the keypad takes.
The PIN's proof key (firmware/rules/pin_proof.py) stays here, never in an event: the purchase client asks it to
sign each request to central while the inmate is logged in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from firmware.kiosk.messages import LoginResult
from firmware.rules.authorize import Refusal
from firmware.rules.pin_proof import HeldProof
from firmware.rules.schedule import local
from firmware.rules.service import CallRules


class PinChecker(Protocol):
    #: Fewest and most digits a PIN has.
    pin_lengths: tuple[int, int]

    def check(self, pin: str, at: float) -> LoginResult: ...

    def prove(self, inmate_id: str, message: bytes) -> str: ...

    def forget(self) -> None: ...

    def remember_language(self, inmate_id: str, language: str, at: float) -> None: ...


class RulesLogin:
    """A PinChecker over firmware.rules: keyed PIN verifiers, the facility's lockout, restrictions."""

    def __init__(self, rules: CallRules, wall: Callable[[float], datetime]) -> None:
        self.rules = rules
        self._wall = wall
        policy = rules.rules.pin
        self.pin_lengths = (policy.min_length, policy.entry_max_length)
        #: The logged-in inmate's proof key of their PIN, kept in memory only until the session ends.
        self._proof = HeldProof()

    def check(self, pin: str, at: float) -> LoginResult:
        now = self._wall(at)
        found = self.rules.identify(pin, now)
        self._proof.forget()
        if not isinstance(found, Refusal):
            self._proof.keep(found.inmate_id, found.proof)
            language = found.language if found.language in ("en", "es") else ""
            return LoginResult(at, "ok", found.inmate_id, language)  # type: ignore[arg-type]
        params = found.params
        if found.reason == "pin.invalid":
            return LoginResult(at, "wrong_pin", attempts_left=int(params["attempts_left"]))
        if found.reason == "refuse.locked_out":
            until = local(datetime.fromisoformat(params["until"]), self.rules.rules)
            return LoginResult(at, "locked", locked_until=until.strftime("%H:%M"))
        if found.reason == "refuse.restricted":
            return LoginResult(at, "restricted", restricted_until=str(params.get("until", "")))
        return LoginResult(at, "unavailable")

    def remember_language(self, inmate_id: str, language: str, at: float) -> None:
        self.rules.remember_language(inmate_id, language, self._wall(at))

    def prove(self, inmate_id: str, message: bytes) -> str:
        """The logged-in inmate's signature of `message` for central; "" for anyone else (central refuses it)."""
        return self._proof.sign(inmate_id, message)

    def forget(self) -> None:
        """The session ended: its proof key goes with it."""
        self._proof.forget()
