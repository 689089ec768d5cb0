"""What technician mode hears from the runtime (events), asks of it (commands), and the timers it runs.

Kept apart from the machine (firmware/tech/diag_machine.py) so that the wiring (firmware/tech/session.py) and the
console (firmware/tech/cli.py) name them without the machine's rules and table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from firmware.commands import Command
from hal.events import Event


class TechTimer(StrEnum):
    """Technician mode's timers; the values are the runtime's timer names, shared with no other machine."""

    #: Code entry, a test or the idle menu: one timer, restarted at each step; also the lockout's length.
    STEP = "tech"
    #: The wait for a code typed while technician mode is locked (the lockout's own timer keeps running).
    LOCKED_ENTRY = "tech.locked_entry"


@dataclass(frozen=True)
class Tell(Command):
    """Tell the technician something: a message id from firmware/tech/messages.py and its values (said and shown)."""

    message: str
    values: dict[str, Any] = field(default_factory=dict)
    kind: ClassVar[str] = "tech_show"


@dataclass(frozen=True)
class VerifyCode(Command):
    code: str = field(repr=False)
    kind: ClassVar[str] = "tech_verify_code"
    loggable: ClassVar[bool] = False  # the typed code is never logged


@dataclass(frozen=True)
class RunCheck(Command):
    test: str
    kind: ClassVar[str] = "tech_run_check"


@dataclass(frozen=True)
class RecordResult(Command):
    test: str
    passed: bool
    detail: dict[str, Any]
    kind: ClassVar[str] = "tech_result"


@dataclass(frozen=True)
class SessionStarted(Command):
    via: str
    kind: ClassVar[str] = "tech_session_start"


@dataclass(frozen=True)
class SessionEnded(Command):
    reason: str
    results: dict[str, bool]
    kind: ClassVar[str] = "tech_session_end"


@dataclass(frozen=True)
class CodeChecked(Event):
    ok: bool
    #: Wrong codes still allowed before a lockout, and the lockout's length: the store's persistent counter's.
    tries_left: int = 0
    locked_s: float | None = None
    kind: ClassVar[str] = "tech_code_checked"


@dataclass(frozen=True)
class CheckDone(Event):
    test: str
    passed: bool
    detail: dict[str, Any]
    kind: ClassVar[str] = "tech_check_done"


@dataclass(frozen=True)
class ConsoleEnter(Event):
    kind: ClassVar[str] = "tech_console"


@dataclass(frozen=True)
class ConsoleKey(Event):
    """A key typed at the serial console: it drives the menu, but never counts as a keypad press."""

    key: str
    kind: ClassVar[str] = "tech_console_key"


@dataclass(frozen=True)
class ConsoleLeave(Event):
    kind: ClassVar[str] = "tech_console_leave"
