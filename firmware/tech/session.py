"""Technician mode on a running device: the sans-I/O machine, the event-driven checks, and their runtime wiring.

The line and audio checks are driven by events like everything else: the line test dials the configured test
number and waits for the network's progress; the audio test plays a tone into the earpiece and measures what
the mouthpiece hears back. The other checks run at once in the runtime's handler. Every result and every
session goes to the audit log, and so to the outbox.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import numpy as np

from firmware.commands import Command
from firmware.config import Config
from firmware.files import TECHNICIAN_CODE_FILE
from firmware.runtime import Runtime
from firmware.store import Store
from firmware.tech import checks
from firmware.tech.audit import AuditLog
from firmware.tech.code import matches, revoked
from firmware.tech.code_guard import CodeGuard
from firmware.tech.diag_events import (
    CheckDone,
    CodeChecked,
    RecordResult,
    RunCheck,
    SessionEnded,
    SessionStarted,
    Tell,
    VerifyCode,
)
from firmware.tech.diag_machine import TechnicianMode, TechRules
from firmware.tech.home import DeviceHome
from firmware.tech.messages import render
from firmware.tech.revocations import codes_revoked_at
from firmware.tech.settings import TechSettings
from firmware.tech.settings import load as load_settings
from hal.audio import AudioFrame
from hal.clock import Clock, wall_clock
from hal.events import Event
from hal.line import LineAnswered, LineHungUp, LineProgress


@dataclass(frozen=True)
class DialTestNumber(Command):
    number: str
    kind: ClassVar[str] = "tech_dial"


@dataclass(frozen=True)
class HangUpLine(Command):
    kind: ClassVar[str] = "tech_hang_up"


@dataclass(frozen=True)
class PlayFrames(Command):
    frames: list[np.ndarray] = field(repr=False)
    kind: ClassVar[str] = "tech_play"
    loggable: ClassVar[bool] = False


class TechnicianSession:
    """A runtime Machine: technician mode, with the line and audio checks run from the events they need.

    It composes the mode by its events and commands alone: a check is running from the RunCheck it routed until
    the mode records a result (every way out of a check records one).
    """

    def __init__(self, mode: TechnicianMode, line_test_number: str, audio: checks.AudioTestRules | None = None) -> None:
        self.mode = mode
        self.line_test_number = line_test_number
        self.audio = audio or checks.AudioTestRules()
        self._line_pending = False
        self._captured: list[np.ndarray] | None = None

    @property
    def secret_input(self) -> bool:
        return self.mode.secret_input

    @property
    def captures_input(self) -> bool:
        return self.mode.captures_input

    def handle(self, event: Event) -> list[Command]:
        if self._line_pending and isinstance(event, LineProgress | LineAnswered | LineHungUp):
            return self._line_result(event)
        if self._captured is not None and isinstance(event, AudioFrame):
            if event.source == "mic":
                self._captured.append(event.samples)
                if len(self._captured) >= self.audio.frames:
                    captured, self._captured = np.concatenate(self._captured), None
                    passed, detail = checks.analyse_loopback(captured, self.audio)
                    return self._route(self.mode.handle(CheckDone(event.at, "audio", passed, detail)))
            return []
        return self._route(self.mode.handle(event))

    def _line_result(self, event: Event) -> list[Command]:
        # Ringing or an answer: the network took the call. Busy, unreachable or a release: the line is not right.
        self._line_pending = False
        passed = isinstance(event, LineAnswered) or (isinstance(event, LineProgress) and event.state == "ringing")
        state = "answered" if isinstance(event, LineAnswered) else getattr(event, "state", "released")
        done = CheckDone(event.at, "line", passed, {"number": self.line_test_number, "result": state})
        return [HangUpLine(), *self._route(self.mode.handle(done))]

    def _route(self, commands: list[Command]) -> list[Command]:
        """Turn the machine's requests for line and audio checks into device commands; a result ends the check."""
        routed: list[Command] = []
        for command in commands:
            if isinstance(command, RecordResult):
                self._line_pending = False
                self._captured = None
            if isinstance(command, RunCheck) and command.test == "line":
                self._line_pending = True
                routed.append(DialTestNumber(self.line_test_number))
            elif isinstance(command, RunCheck) and command.test == "audio":
                self._captured = []
                routed.append(PlayFrames(checks.tone_frames(self.audio)))
            else:
                routed.append(command)
        return routed


def text_lines(text: str, width: int, height: int) -> list[str]:
    return textwrap.wrap(text, width)[:height]


def play_all(audio: Any, frames: list[np.ndarray]) -> None:
    for frame in frames:
        audio.play(frame)


def wire(
    runtime: Runtime,
    clock: Clock,
    home: DeviceHome,
    store: Store,
    devices: Any,
    language: str,
    say: Callable[[str], None],
    rules: TechRules,
    wall: Callable[[float], datetime],
    use_link: Callable[[Callable[[], None]], None] | None = None,
) -> None:
    """Register the handlers that execute technician mode's commands on this device; `wall` dates lockouts.

    What commits the store (the code guard, the audit log) or waits (the checks) runs on the runtime's worker,
    off the frame thread; the link test runs through `use_link` when the device has one owner of its link (the
    sync thread: a serial line carries one connection at a time), else on the worker."""
    audit = AuditLog(store)
    runtime.on(Tell, _teller(devices, language, say))
    runtime.offload(VerifyCode, _code_verifier(runtime, clock, home, store, CodeGuard(store, rules), wall))
    runtime.on(RunCheck, _check_runner(runtime, clock, home, store, use_link))
    _record_in_audit(runtime, audit)
    _drive_line_and_audio(runtime, devices)


def _teller(devices: Any, language: str, say: Callable[[str], None]) -> Callable[[Tell], None]:
    """A message in the device's language: said (to the log) and shown on the display."""

    def tell(command: Tell) -> None:
        text = render(command.message, command.values, language)
        say(text)
        display = devices.display
        display.show(text_lines(text, display.width, display.height))

    return tell


def _code_verifier(
    runtime: Runtime,
    clock: Clock,
    home: DeviceHome,
    store: Store,
    guard: CodeGuard,
    wall: Callable[[float], datetime],
) -> Callable[[VerifyCode], None]:
    """Check a typed code against the device's verifier, counting tries and lockouts across restarts."""

    def verify(command: VerifyCode) -> None:
        now = wall(clock.now()).timestamp()
        locked_s = guard.locked_for(now)
        if locked_s is not None:  # locked before a restart: the code is not even checked
            runtime.post(CodeChecked(clock.now(), False, 0, locked_s))
            return
        ok = _code_opens(command.code, home, store)
        verdict = guard.record(ok, now)
        runtime.post(CodeChecked(clock.now(), ok, verdict.tries_left, verdict.locked_s))

    return verify


def _code_opens(code: str, home: DeviceHome, store: Store) -> bool:
    """True when `code` matches the provisioned verifier and the facility has not revoked it."""
    path = home.etc / TECHNICIAN_CODE_FILE
    try:
        verifier = json.loads(path.read_text(encoding="utf-8"))
        # A code the facility revoked (through sync) counts as a wrong one, so guessing still locks.
        return matches(code, verifier) and not revoked(verifier, codes_revoked_at(store))
    except (OSError, ValueError, KeyError):
        return False  # no verifier (an unprovisioned device): no code opens technician mode from the keypad


def _check_runner(
    runtime: Runtime,
    clock: Clock,
    home: DeviceHome,
    store: Store,
    use_link: Callable[[Callable[[], None]], None] | None,
) -> Callable[[RunCheck], None]:
    """Run the status, errors and link checks off the frame thread; the link one where the link is owned."""

    def run_check(command: RunCheck) -> None:
        if command.test == "status":
            passed, detail = checks.status_check(home)
        elif command.test == "errors":
            passed, detail = checks.errors_check(store)
        else:
            passed, detail = checks.link_check(home)
        runtime.post(CheckDone(clock.now(), command.test, passed, detail))

    def check(command: RunCheck) -> None:
        if command.test == "link" and use_link is not None:
            use_link(lambda: run_check(command))
        else:
            runtime.worker.submit(lambda: run_check(command))

    return check


def _record_in_audit(runtime: Runtime, audit: AuditLog) -> None:
    """Every result and every session's start and end go to the audit log (on the worker: it commits)."""
    runtime.offload(
        RecordResult, lambda c: audit.record("diag_result", {"test": c.test, "passed": c.passed, "detail": c.detail})
    )
    runtime.offload(SessionStarted, lambda c: audit.record("diag_session", {"event": "start", "via": c.via}))
    runtime.offload(
        SessionEnded, lambda c: audit.record("diag_session", {"event": "end", "reason": c.reason, "results": c.results})
    )


def _drive_line_and_audio(runtime: Runtime, devices: Any) -> None:
    """The line and audio checks' device commands."""
    runtime.on(DialTestNumber, lambda c: devices.line.dial(c.number))
    runtime.on(HangUpLine, lambda c: devices.line.hang_up())
    runtime.on(PlayFrames, lambda c: play_all(devices.audio, c.frames))


def attach(
    runtime: Runtime,
    clock: Clock,
    home: DeviceHome,
    store: Store,
    devices: Any,
    keypad_layout: str,
    language: str,
    say: Callable[[str], None],
    wall: Callable[[float], datetime],
    settings: TechSettings | None = None,
    simulated: frozenset[str] = frozenset(),
    use_link: Callable[[Callable[[], None]], None] | None = None,
) -> TechnicianSession:
    """Add technician mode to a running device: one call from where the device is assembled. `simulated`
    names the devices (keypad, hook, audio, line) that are simulated here; `use_link` runs a job that talks to
    the central server on the thread that owns the link."""
    from hal.keypad import LAYOUTS

    settings = settings or load_settings()
    keys = [key for row in LAYOUTS[keypad_layout] for key in row]
    session = TechnicianSession(
        TechnicianMode(keys, settings.mode, simulated), settings.line.test_number, settings.audio
    )
    runtime.machines.append(session)
    wire(runtime, clock, home, store, devices, language, say, settings.mode, wall, use_link)
    return session


def device_home(config: Config) -> DeviceHome:
    """Where the technician code verifier and the slots are: paths.home, else the data_dir's parent."""
    return DeviceHome(config.paths.home_dir)


def attach_to_device(
    runtime: Runtime,
    config: Config,
    clock: Clock,
    devices: Any,
    store: Store | None = None,
    use_link: Callable[[Callable[[], None]], None] | None = None,
    wall: Callable[[float], datetime] | None = None,
) -> TechnicianSession:
    """Technician mode on a running handset or kiosk: entered with the entry sequence and the technician code
    on its keypad. What it shows also goes to the log as plain text (`tech_text`), in the device's language.
    `wall` is the platform's (the simulator's); None: the system's, read once here."""
    store = store or Store(config.paths.store_path)

    def say(text: str) -> None:
        runtime.note({"t_ms": round(clock.now() * 1000), "event": "tech_text", "text": text})

    from firmware.device import simulated_devices

    return attach(
        runtime,
        clock,
        device_home(config),
        store,
        devices,
        config.keypad.layout,
        config.device.language,
        say,
        wall or wall_clock(clock),
        simulated=simulated_devices(config),
        use_link=use_link,
    )
