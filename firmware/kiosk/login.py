"""How the kiosk asks who typed a PIN: one call, answered as a LoginResult event.

The answer (inmate, language, restriction, or wrong PIN with attempts left, or locked out) comes from the
identity rules the handset uses too, so a lockout earned at one is a lockout at the other.
"""

from __future__ import annotations

from typing import Protocol

from firmware.kiosk.messages import LoginResult


class PinChecker(Protocol):
    def check(self, pin: str, at: float) -> LoginResult: ...
