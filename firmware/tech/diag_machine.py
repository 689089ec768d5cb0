"""Technician mode, driven from the keypad: a pytransitions state machine declared as data, sans-I/O.

The entry sequence (from data, e.g. `*#*#`) then the technician code and `#` open a session; the code is
checked by the runtime against the stored verifier (VerifyCode -> CodeChecked), never kept here. Too many wrong
codes lock technician mode for a while. In the menu each digit starts one test; the keypad and hookswitch
tests are run here from the key and hook events themselves, the others (audio, line, link, status, errors) are
asked of the runtime (RunCheck -> CheckDone). Every result is a RecordResult command (outbox and audit); the
session's start and end are commands too. A serial console opens the same menu without a code
(ConsoleEnter): the console is itself a privileged place.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from transitions import Machine

from firmware.commands import CancelTimer, Command, StartTimer, TimerExpired
from firmware.tech.diag_events import (
    CheckDone,
    CodeChecked,
    ConsoleEnter,
    ConsoleKey,
    ConsoleLeave,
    RecordResult,
    RunCheck,
    SessionEnded,
    SessionStarted,
    TechTimer,
    Tell,
    VerifyCode,
)
from hal.events import Event, HookFlash, KeyDown, OffHook, OnHook

MENU: dict[str, str] = {
    "1": "keypad",
    "2": "hook",
    "3": "audio",
    "4": "line",
    "5": "link",
    "6": "status",
    "7": "errors",
}
SESSION_STATES = ["menu", "keypad_test", "hook_test", "checking"]

STATES = ["normal", "code_entry", "verifying", "locked", "locked_entry", *SESSION_STATES]

TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "entry_typed", "source": "normal", "dest": "code_entry"},
    {"trigger": "code_typed", "source": "code_entry", "dest": "verifying"},
    {"trigger": "code_accepted", "source": "verifying", "dest": "menu"},
    {"trigger": "code_rejected", "source": "verifying", "dest": "locked", "conditions": "out_of_tries"},
    {"trigger": "code_rejected", "source": "verifying", "dest": "code_entry"},
    {"trigger": "lock_over", "source": ["locked", "locked_entry"], "dest": "normal"},
    # While locked the entry sequence still takes the keys that follow (the code), so they reach no call flow.
    {"trigger": "entry_typed", "source": "locked", "dest": "locked_entry"},
    {"trigger": "still_locked", "source": "locked_entry", "dest": "locked"},
    {"trigger": "console", "source": ["normal", "code_entry"], "dest": "menu"},
    {"trigger": "pick_keypad", "source": "menu", "dest": "keypad_test"},
    {"trigger": "pick_hook", "source": "menu", "dest": "hook_test"},
    {"trigger": "pick_check", "source": "menu", "dest": "checking"},
    {"trigger": "test_over", "source": ["keypad_test", "hook_test", "checking"], "dest": "menu"},
    {"trigger": "leave", "source": [*SESSION_STATES, "code_entry"], "dest": "normal"},
]


class TechRules(BaseModel):
    """Technician mode's rules: data, validated, with the field standards as defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    entry_sequence: str = Field(default="*#*#", pattern=r"^[0-9*#A-D]{3,8}$")
    code_max_tries: int = Field(default=3, ge=1, le=10)
    #: The entry sequence must follow a lift, a hang-up or this long without a key.
    entry_quiet_s: float = Field(default=3.0, gt=0, le=60)
    lockout_s: float = Field(default=300.0, gt=0)
    #: Later lockouts within escalation_window_s last this long; the staff_after_lockouts-th is audited for staff.
    longer_lockout_s: float = Field(default=3600.0, gt=0)
    staff_after_lockouts: int = Field(default=3, ge=2, le=20)
    escalation_window_s: float = Field(default=86400.0, gt=0)
    code_entry_timeout_s: float = Field(default=20.0, gt=0)
    idle_timeout_s: float = Field(default=120.0, gt=0)
    keypad_test_timeout_s: float = Field(default=60.0, gt=0)
    hook_test_timeout_s: float = Field(default=60.0, gt=0)
    check_timeout_s: float = Field(default=30.0, gt=0)
    #: A flash the switch accepts (North America: 300-1000 ms).
    flash_min_ms: int = Field(default=300, ge=10)
    flash_max_ms: int = Field(default=1000, ge=10)

    @model_validator(mode="after")
    def _flash_range(self) -> TechRules:
        if self.flash_min_ms >= self.flash_max_ms:
            raise ValueError(f"flash_min_ms ({self.flash_min_ms}) must be below flash_max_ms ({self.flash_max_ms})")
        return self


#: Timer names this machine owns; any other TimerExpired is another machine's.
TECH_TIMERS = frozenset(TechTimer)


class TechnicianMode:
    """Feed events with `handle`; get commands back. `keys` is every key on this device's keypad."""

    # The triggers pytransitions adds from TRANSITIONS, declared so that the type checker sees them.
    entry_typed: Callable[[], bool]
    code_typed: Callable[[], bool]
    code_accepted: Callable[[], bool]
    code_rejected: Callable[[], bool]
    lock_over: Callable[[], bool]
    still_locked: Callable[[], bool]
    console: Callable[[], bool]
    pick_keypad: Callable[[], bool]
    pick_hook: Callable[[], bool]
    pick_check: Callable[[], bool]
    test_over: Callable[[], bool]
    leave: Callable[[], bool]

    def __init__(
        self, keys: Sequence[str], rules: TechRules | None = None, simulated: frozenset[str] = frozenset()
    ) -> None:
        self.rules = rules or TechRules()
        #: Tests whose device is simulated on this unit: their outcome is shown as "simulated", never "passed".
        self.simulated = simulated
        self.keys = list(keys)
        self.state: str = "normal"
        self.machine = Machine(
            model=self, states=STATES, transitions=TRANSITIONS, initial="normal", auto_transitions=False
        )
        self._recent = ""
        self._spoiled = False
        self._last_key_at = float("-inf")
        self._locked_until = 0.0
        self._code = ""
        self._tries = 0
        self._lock_s: float | None = None
        self._out: list[Command] = []
        self._now = 0.0
        self._results: dict[str, bool] = {}
        self._pressed: list[str] = []
        self._hook: dict[str, Any] = {}
        self._check = ""
        #: What each state does with an event: every state has its handler, checked when the machine is built.
        self._inputs: dict[str, Callable[[Event], None]] = {
            "normal": self._in_normal,
            "code_entry": self._in_code_entry,
            "verifying": self._in_verifying,
            "locked": self._in_locked,
            "locked_entry": self._in_locked_entry,
            "menu": self._in_menu,
            "keypad_test": self._in_keypad_test,
            "hook_test": self._in_hook_test,
            "checking": self._in_checking,
        }
        assert set(self._inputs) == set(STATES), "every state of the table has an input handler"

    # -- conditions -----------------------------------------------------------------------------------------

    def out_of_tries(self) -> bool:
        return self._lock_s is not None

    @property
    def secret_input(self) -> bool:
        """The technician code is being typed: the runtime logs those keys hidden."""
        return self.state in ("code_entry", "locked_entry")

    @property
    def captures_input(self) -> bool:
        """From the entry sequence to the end of the session the keypad and hookswitch are technician mode's
        alone: the code is never a PIN attempt, and a test's keys and hook moves never reach the call flow."""
        return self.state not in ("normal", "locked")

    # -- event entry point ----------------------------------------------------------------------------------

    def handle(self, event: Event) -> list[Command]:
        self._out = []
        self._now = event.at
        if isinstance(event, TimerExpired) and event.name not in TECH_TIMERS:
            return []  # another machine's timer
        if isinstance(event, ConsoleKey):
            if self.state == "keypad_test":
                return []
            event = KeyDown(event.at, event.key)
        self._inputs[self.state](event)
        return self._out

    def _emit(self, *commands: Command) -> None:
        self._out.extend(commands)

    def _timer(self, seconds: float) -> None:
        self._emit(StartTimer(TechTimer.STEP, self._now + seconds))

    def _start_session(self, via: str) -> None:
        self._results = {}
        self._emit(SessionStarted(via), Tell("menu"))
        self._timer(self.rules.idle_timeout_s)

    def _end_session(self, reason: str) -> None:
        self._emit(CancelTimer(TechTimer.STEP), SessionEnded(reason, dict(self._results)), Tell("goodbye"))
        self.leave()

    def _record(self, test: str, passed: bool, detail: dict[str, Any]) -> None:
        self._results[test] = passed
        if test in self.simulated:
            detail = {**detail, "simulated": True}
        verdict = "test_failed" if not passed else "test_simulated" if test in self.simulated else "test_passed"
        self._emit(RecordResult(test, passed, detail), Tell(verdict, {"test": test, **detail}))

    def _back_to_menu(self) -> None:
        self.test_over()
        self._emit(Tell("menu"))
        self._timer(self.rules.idle_timeout_s)

    # -- states ---------------------------------------------------------------------------------------------

    def _in_normal(self, event: Event) -> None:
        if isinstance(event, ConsoleEnter):
            self.console()
            self._start_session("console")
        elif isinstance(event, KeyDown):
            if self._entry_key(event):
                self._code = ""
                self.entry_typed()
                self._emit(Tell("enter_code"))
                self._timer(self.rules.code_entry_timeout_s)
        elif isinstance(event, OnHook | OffHook):
            self._recent, self._spoiled = "", False

    def _entry_key(self, event: KeyDown) -> bool:
        """The entry sequence counts only as the first keys after a lift, a hang-up or a quiet pause: an inmate
        erasing and entering (`**#*#` at the kiosk) never opens code entry by chance."""
        if event.at - self._last_key_at >= self.rules.entry_quiet_s:
            self._recent, self._spoiled = "", False
        self._last_key_at = event.at
        if self._spoiled:
            return False
        self._recent += event.key
        if not self.rules.entry_sequence.startswith(self._recent):
            self._recent, self._spoiled = "", True
        elif self._recent == self.rules.entry_sequence:
            self._recent = ""
            return True
        return False

    def _in_code_entry(self, event: Event) -> None:
        if isinstance(event, ConsoleEnter):
            self.console()
            self._start_session("console")
        elif isinstance(event, KeyDown):
            if event.key == "#" and self._code:
                code, self._code = self._code, ""
                self.code_typed()
                self._emit(CancelTimer(TechTimer.STEP), VerifyCode(code), Tell("checking_code"))
                return
            if event.key == "#":  # nothing typed yet: not a try
                self._emit(Tell("enter_code"))
            elif event.key == "*":
                self._code = ""
                self._emit(Tell("enter_code"))
            else:
                self._code = (self._code + event.key)[-16:]
            self._timer(self.rules.code_entry_timeout_s)
        elif isinstance(event, TimerExpired | OnHook):
            self._code = ""
            self._emit(CancelTimer(TechTimer.STEP), Tell("goodbye"))
            self.leave()

    def _in_verifying(self, event: Event) -> None:
        if not isinstance(event, CodeChecked):
            return
        if event.ok:
            self._tries = 0
            self.code_accepted()
            self._start_session("keypad")
            return
        self._tries += 1
        self._lock_s = event.locked_s
        self._emit(RecordResult("code", False, {"tries": self._tries}))
        self.code_rejected()
        if self.state == "locked" and event.locked_s is not None:  # out_of_tries: the lockout has a length
            self._locked_until = self._now + event.locked_s
            self._emit(Tell("locked", {"minutes": self._minutes_left()}))
            self._timer(event.locked_s)
        else:
            self._emit(Tell("wrong_code", {"left": event.tries_left}))
            self._timer(self.rules.code_entry_timeout_s)

    def _in_locked(self, event: Event) -> None:
        if isinstance(event, TimerExpired) and event.name == TechTimer.STEP:
            self._tries = 0
            self.lock_over()
        elif isinstance(event, KeyDown) and self._entry_key(event):
            self.entry_typed()
            self._emit(Tell("locked", {"minutes": self._minutes_left()}))
            self._emit(StartTimer(TechTimer.LOCKED_ENTRY, self._now + self.rules.code_entry_timeout_s))
        elif isinstance(event, OnHook | OffHook):
            self._recent, self._spoiled = "", False

    def _in_locked_entry(self, event: Event) -> None:
        """Swallow what is typed (the code, unchecked: no try counts while locked) until #, a hang-up or a pause."""
        if isinstance(event, TimerExpired) and event.name == TechTimer.STEP:
            self._tries = 0
            self._locked_until = self._now
        elif isinstance(event, KeyDown) and event.key != "#":
            self._emit(StartTimer(TechTimer.LOCKED_ENTRY, self._now + self.rules.code_entry_timeout_s))
        elif isinstance(event, KeyDown | OnHook | TimerExpired):
            self._emit(CancelTimer(TechTimer.LOCKED_ENTRY))
            if self._now >= self._locked_until:
                self.lock_over()
            else:
                self._emit(Tell("locked", {"minutes": self._minutes_left()}))
                self.still_locked()

    def _minutes_left(self) -> int:
        return max(1, math.ceil((self._locked_until - self._now) / 60))

    def _in_menu(self, event: Event) -> None:
        if isinstance(event, TimerExpired):
            self._end_session("idle")
        elif isinstance(event, ConsoleLeave | OnHook) or (isinstance(event, KeyDown) and event.key == "0"):
            self._end_session("technician left" if not isinstance(event, OnHook) else "hung up")
        elif isinstance(event, KeyDown) and event.key in MENU:
            test = MENU[event.key]
            if test == "keypad":
                self._pressed = []
                self.pick_keypad()
                self._emit(Tell("keypad_test", {"keys": " ".join(self.keys)}))
                self._timer(self.rules.keypad_test_timeout_s)
            elif test == "hook":
                self._hook = {"on_hook": False, "off_hook": False, "flashes_ms": []}
                self.pick_hook()
                self._emit(Tell("hook_test", {"min": self.rules.flash_min_ms, "max": self.rules.flash_max_ms}))
                self._timer(self.rules.hook_test_timeout_s)
            else:
                self._check = test
                self.pick_check()
                self._emit(RunCheck(test), Tell("running", {"test": test}))
                self._timer(self.rules.check_timeout_s)
        elif isinstance(event, KeyDown):
            self._emit(Tell("menu"))
            self._timer(self.rules.idle_timeout_s)

    def _in_keypad_test(self, event: Event) -> None:
        if isinstance(event, KeyDown):
            if event.key not in self._pressed:
                self._pressed.append(event.key)
            self._emit(Tell("key_pressed", {"key": event.key, "left": len(set(self.keys) - set(self._pressed))}))
            if set(self.keys) <= set(self._pressed):
                self._emit(CancelTimer(TechTimer.STEP))
                self._record("keypad", True, {"pressed": list(self._pressed)})
                self._back_to_menu()
        elif isinstance(event, TimerExpired):
            missing = [k for k in self.keys if k not in self._pressed]
            self._record("keypad", False, {"pressed": list(self._pressed), "missing": missing})
            self._back_to_menu()

    def _in_hook_test(self, event: Event) -> None:
        h = self._hook
        if isinstance(event, OnHook):
            h["on_hook"] = True
            self._emit(Tell("hook_on"))
        elif isinstance(event, OffHook):
            h["off_hook"] = True
            self._emit(Tell("hook_off"))
        elif isinstance(event, HookFlash):
            h["flashes_ms"].append(event.duration_ms)
            ok = self.rules.flash_min_ms <= event.duration_ms <= self.rules.flash_max_ms
            self._emit(Tell("hook_flash", {"ms": event.duration_ms, "ok": ok}))
        elif isinstance(event, TimerExpired):
            self._record("hook", False, {**h, "missing": self._hook_missing()})
            self._back_to_menu()
            return
        if not self._hook_missing():
            self._emit(CancelTimer(TechTimer.STEP))
            self._record("hook", True, dict(h))
            self._back_to_menu()

    def _hook_missing(self) -> list[str]:
        h = self._hook
        good_flash = any(self.rules.flash_min_ms <= ms <= self.rules.flash_max_ms for ms in h["flashes_ms"])
        return [
            name
            for name, seen in (("on_hook", h["on_hook"]), ("off_hook", h["off_hook"]), ("flash", good_flash))
            if not seen
        ]

    def _in_checking(self, event: Event) -> None:
        if isinstance(event, CheckDone) and event.test == self._check:
            self._emit(CancelTimer(TechTimer.STEP))
            self._record(event.test, event.passed, event.detail)
            self._back_to_menu()
        elif isinstance(event, TimerExpired):
            self._record(self._check, False, {"error": f"no answer within {self.rules.check_timeout_s:.0f} s"})
            self._back_to_menu()
