"""Technician mode driven alone (the mode, then the session that composes it): events in, commands out."""

from __future__ import annotations

import inspect

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
from firmware.tech.diag_machine import TRANSITIONS, TechnicianMode, TechRules
from firmware.tech.session import DialTestNumber, HangUpLine, TechnicianSession
from hal.events import HookFlash, KeyDown, OffHook, OnHook
from hal.line import LineAnswered, LineProgress

KEYS = ["1", "2", "3", "*", "0", "#"]
RULES = TechRules()


def typed(mode: TechnicianMode | TechnicianSession, at: float, keys: str) -> list[Command]:
    out: list[Command] = []
    for i, key in enumerate(keys):
        out += mode.handle(KeyDown(at + i * 0.2, key))
    return out


def in_menu(mode: TechnicianMode) -> TechnicianMode:
    typed(mode, 1.0, "*#*#480213#")
    out = mode.handle(CodeChecked(4.0, True))
    assert out == [SessionStarted("keypad"), Tell("menu"), StartTimer(TechTimer.STEP, 4.0 + RULES.idle_timeout_s)]
    return mode


def test_every_guard_the_table_names_is_a_method_and_none_is_found_by_its_name() -> None:
    named = [t["conditions"] for t in TRANSITIONS if "conditions" in t]
    assert named and all(callable(getattr(TechnicianMode, name, None)) for name in named)
    assert not [n for n, _ in inspect.getmembers(TechnicianMode) if n.startswith(("on_enter_", "on_exit_"))]


def test_the_code_is_asked_of_the_runtime_and_never_kept() -> None:
    mode = TechnicianMode(KEYS)
    out = typed(mode, 1.0, "*#*#")
    assert mode.state == "code_entry" and Tell("enter_code") in out
    out = typed(mode, 2.0, "480213#")
    assert out[-3:] == [CancelTimer(TechTimer.STEP), VerifyCode("480213"), Tell("checking_code")]
    assert mode.state == "verifying" and "480213" not in repr(vars(mode))


def test_a_wrong_code_that_locks_says_for_how_long_and_times_the_lockout() -> None:
    mode = TechnicianMode(KEYS)
    typed(mode, 1.0, "*#*#111111#")
    out = mode.handle(CodeChecked(5.0, False, 0, 300.0))
    assert mode.state == "locked"
    assert out == [RecordResult("code", False, {"tries": 1}), Tell("locked", {"minutes": 5}), StartTimer("tech", 305.0)]
    assert not mode.captures_input  # while locked the call flow has its keypad back
    out = typed(mode, 100.0, "*#*#")
    assert mode.state == "locked_entry" and Tell("locked", {"minutes": 4}) in out
    assert StartTimer(TechTimer.LOCKED_ENTRY, 100.6 + RULES.code_entry_timeout_s) in out
    mode.handle(TimerExpired(305.0, TechTimer.STEP))
    typed(mode, 306.0, "#")
    assert mode.state == "normal"


def test_a_wrong_code_with_tries_left_asks_again() -> None:
    mode = TechnicianMode(KEYS)
    typed(mode, 1.0, "*#*#111111#")
    out = mode.handle(CodeChecked(5.0, False, 2))
    assert mode.state == "code_entry" and Tell("wrong_code", {"left": 2}) in out


def test_the_entry_sequence_counts_only_after_a_quiet_pause() -> None:
    mode = TechnicianMode(KEYS)
    typed(mode, 1.0, "5")
    typed(mode, 1.2, "*#*#")  # right after another key: an inmate typing, not a technician
    assert mode.state == "normal"
    typed(mode, 1.8 + RULES.entry_quiet_s, "*#*#")
    assert mode.state == "code_entry"


def test_another_machine_s_timer_is_ignored() -> None:
    mode = in_menu(TechnicianMode(KEYS))
    assert mode.handle(TimerExpired(10.0, "kiosk.reply")) == []
    assert mode.state == "menu"


def test_the_keypad_test_passes_when_every_key_is_pressed() -> None:
    mode = in_menu(TechnicianMode(KEYS))
    typed(mode, 5.0, "1")
    out = typed(mode, 6.0, "".join(KEYS))
    assert RecordResult("keypad", True, {"pressed": KEYS}) in out and mode.state == "menu"


def test_the_keypad_test_times_out_naming_the_missing_keys() -> None:
    mode = in_menu(TechnicianMode(KEYS))
    typed(mode, 5.0, "1")
    typed(mode, 6.0, "12")
    out = mode.handle(TimerExpired(70.0, TechTimer.STEP))
    assert RecordResult("keypad", False, {"pressed": ["1", "2"], "missing": ["3", "*", "0", "#"]}) in out


def test_a_flash_counts_only_within_the_switch_s_range() -> None:
    mode = in_menu(TechnicianMode(KEYS))
    typed(mode, 5.0, "2")
    mode.handle(OnHook(6.0, 100))
    mode.handle(OffHook(7.0))
    out = mode.handle(HookFlash(8.0, RULES.flash_min_ms - 1))
    assert Tell("hook_flash", {"ms": RULES.flash_min_ms - 1, "ok": False}) in out and mode.state == "hook_test"
    out = mode.handle(HookFlash(9.0, RULES.flash_min_ms))
    assert mode.state == "menu"
    assert (
        RecordResult(
            "hook",
            True,
            {"on_hook": True, "off_hook": True, "flashes_ms": [RULES.flash_min_ms - 1, RULES.flash_min_ms]},
        )
        in out
    )


def test_a_check_without_an_answer_fails_at_its_timeout() -> None:
    mode = in_menu(TechnicianMode(KEYS))
    out = typed(mode, 5.0, "6")
    assert out == [RunCheck("status"), Tell("running", {"test": "status"}), StartTimer(TechTimer.STEP, 35.0)]
    out = mode.handle(TimerExpired(35.0, TechTimer.STEP))
    assert RecordResult("status", False, {"error": "no answer within 30 s"}) in out


def test_a_simulated_device_s_test_is_never_shown_as_passed() -> None:
    mode = in_menu(TechnicianMode(KEYS, simulated=frozenset({"link"})))
    typed(mode, 5.0, "5")
    out = mode.handle(CheckDone(6.0, "link", True, {}))
    assert RecordResult("link", True, {"simulated": True}) in out
    assert Tell("test_simulated", {"test": "link", "simulated": True}) in out


def test_the_console_opens_the_menu_and_leaving_ends_the_session_with_its_results() -> None:
    mode = TechnicianMode(KEYS)
    assert SessionStarted("console") in mode.handle(ConsoleEnter(1.0))
    mode.handle(ConsoleKey(2.0, "6"))
    mode.handle(CheckDone(3.0, "status", True, {}))
    out = mode.handle(ConsoleLeave(4.0))
    assert SessionEnded("technician left", {"status": True}) in out and mode.state == "normal"


def session_in_menu() -> TechnicianSession:
    session = TechnicianSession(TechnicianMode(KEYS), "9580")
    in_menu(session.mode)
    return session


def test_the_line_check_dials_the_test_number_and_ringing_passes() -> None:
    session = session_in_menu()
    out = session.handle(KeyDown(5.0, "4"))
    assert DialTestNumber("9580") in out and not [c for c in out if isinstance(c, RunCheck)]
    out = session.handle(LineProgress(6.0, "ringing"))
    assert out[0] == HangUpLine()
    assert RecordResult("line", True, {"number": "9580", "result": "ringing"}) in out


def test_after_a_line_check_times_out_the_line_s_late_answer_is_not_a_result() -> None:
    session = session_in_menu()
    session.handle(KeyDown(5.0, "4"))
    out = session.handle(TimerExpired(35.0, TechTimer.STEP))
    assert RecordResult("line", False, {"error": "no answer within 30 s"}) in out
    assert session.handle(LineAnswered(36.0)) == []  # the mode is back in its menu: no result, no hang-up
