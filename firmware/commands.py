"""What state machines ask the world to do. The runtime executes them; the machines never touch I/O."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

from hal.events import Event


@dataclass(frozen=True)
class Command:
    kind: ClassVar[str] = "command"
    loggable: ClassVar[bool] = True

    def to_record(self, at: float) -> dict[str, Any]:
        record: dict[str, Any] = {"t_ms": round(at * 1000), "event": self.kind}
        record.update({f.name: getattr(self, f.name) for f in fields(self)})
        return record


@dataclass(frozen=True)
class Log(Command):
    """A fact for the event log only (a prompt played, a state entered): its record is all it does, so the
    runtime needs no handler for it."""

    kind: ClassVar[str] = "log"


@dataclass(frozen=True)
class StartTimer(Command):
    """Fire TimerExpired(name) at clock time `at`; starting a running timer restarts it."""

    name: str
    at: float
    kind: ClassVar[str] = "timer_start"
    loggable: ClassVar[bool] = False


@dataclass(frozen=True)
class CancelTimer(Command):
    name: str
    kind: ClassVar[str] = "timer_cancel"
    loggable: ClassVar[bool] = False


@dataclass(frozen=True)
class VerifyPin(Command):
    """Check a PIN against the roster's keyed verifiers. Never printed: the digits are a secret."""

    pin: str
    kind: ClassVar[str] = "verify_pin"
    loggable: ClassVar[bool] = False


@dataclass(frozen=True)
class RememberLanguage(Command):
    """The inmate chose a language: remembered per inmate, on handsets and kiosks alike."""

    inmate_id: str
    language: str
    kind: ClassVar[str] = "language"


@dataclass(frozen=True)
class TimerExpired(Event):
    name: str
    kind: ClassVar[str] = "timer"
    loggable: ClassVar[bool] = False
