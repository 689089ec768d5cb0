"""Technician mode on a running device: the sans-I/O machine, the event-driven checks, and their runtime wiring.

The line and audio checks are driven by events like everything else: the line test dials the configured test
number and waits for the network's progress; the audio test plays a tone into the earpiece and measures what
the mouthpiece hears back. The other checks run at once in the runtime's handler. Every result and every
session goes to the audit log, and so to the outbox.
"""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
from firmware.tech.diag_machine import (
    CheckDone,
    CodeChecked,
    RecordResult,
    RunCheck,
    SessionEnded,
    SessionStarted,
    Show,
    TechnicianMode,
    TechRules,
    VerifyCode,
)
from firmware.tech.home import DeviceHome
from firmware.tech.messages import render
from firmware.tech.revocations import codes_revoked_at
from firmware.tech.settings import TechSettings
from firmware.tech.settings import load as load_settings
from hal.audio import AudioFrame
from hal.clock import Clock
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
    """A runtime Machine: technician mode, with the line and audio checks run from the events they need."""

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
        commands = self._route(self.mode.handle(event))
        if self.mode.state != "checking":
            self._line_pending = False
            self._captured = None
        return commands

    def _line_result(self, event: Event) -> list[Command]:
        # Ringing or an answer: the network took the call. Busy, unreachable or a release: the line is not right.
        self._line_pending = False
        passed = isinstance(event, LineAnswered) or (isinstance(event, LineProgress) and event.state == "ringing")
        state = "answered" if isinstance(event, LineAnswered) else getattr(event, "state", "released")
        done = CheckDone(event.at, "line", passed, {"number": self.line_test_number, "result": state})
        return [HangUpLine(), *self._route(self.mode.handle(done))]

    def _route(self, commands: list[Command]) -> list[Command]:
        """Turn the machine's requests for line and audio checks into device commands."""
        routed: list[Command] = []
        for command in commands:
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


def wire(
    runtime: Runtime,
    clock: Clock,
    home: DeviceHome,
    store: Store,
    devices: Any,
    language: str,
    say: Callable[[str], None],
    rules: TechRules,
    use_link: Callable[[Callable[[], None]], None] | None = None,
) -> None:
    """Register the handlers that execute technician mode's commands on this device.

    What commits the store (the code guard, the audit log) or waits (the checks) runs on the runtime's worker,
    off the frame thread; the link test runs through `use_link` when the device has one owner of its link (the
    sync thread: a serial line carries one connection at a time), else on the worker."""
    audit = AuditLog(store)

    def show(command: Show) -> None:
        text = render(command.message, command.values, language)
        say(text)
        display = devices.display
        display.show(text_lines(text, display.width, display.height))

    guard = CodeGuard(store, rules)
    wall_anchor = time.time() - clock.now()

    def verify(command: VerifyCode) -> None:
        now = wall_anchor + clock.now()
        locked_s = guard.locked_for(now)
        if locked_s is not None:  # locked before a restart: the code is not even checked
            runtime.post(CodeChecked(clock.now(), False, 0, locked_s))
            return
        path = home.etc / TECHNICIAN_CODE_FILE
        try:
            verifier = json.loads(path.read_text(encoding="utf-8"))
            # A code the facility revoked (through sync) counts as a wrong one, so guessing still locks.
            ok = matches(command.code, verifier) and not revoked(verifier, codes_revoked_at(store))
        except (OSError, ValueError, KeyError):
            ok = False  # no verifier (an unprovisioned device): no code opens technician mode from the keypad
        verdict = guard.record(ok, now)
        runtime.post(CodeChecked(clock.now(), ok, verdict.tries_left, verdict.locked_s))

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

    runtime.on(Show, show)
    runtime.offload(VerifyCode, verify)
    runtime.on(RunCheck, check)
    runtime.offload(
        RecordResult, lambda c: audit.record("diag_result", {"test": c.test, "passed": c.passed, "detail": c.detail})
    )
    runtime.offload(SessionStarted, lambda c: audit.record("diag_session", {"event": "start", "via": c.via}))
    runtime.offload(
        SessionEnded, lambda c: audit.record("diag_session", {"event": "end", "reason": c.reason, "results": c.results})
    )
    runtime.on(DialTestNumber, lambda c: devices.line.dial(c.number))
    runtime.on(HangUpLine, lambda c: devices.line.hang_up())
    runtime.on(PlayFrames, lambda c: [devices.audio.play(f) for f in c.frames])


def attach(
    runtime: Runtime,
    clock: Clock,
    home: DeviceHome,
    store: Store,
    devices: Any,
    keypad_layout: str,
    language: str,
    say: Callable[[str], None],
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
    wire(runtime, clock, home, store, devices, language, say, settings.mode, use_link)
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
) -> TechnicianSession:
    """Technician mode on a running handset or kiosk: entered with the entry sequence and the technician code
    on its keypad. What it shows also goes to the log as plain text (`tech_text`), in the device's language."""
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
        simulated=simulated_devices(config),
        use_link=use_link,
    )
