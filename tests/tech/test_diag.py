"""Technician mode on a simulated device under a virtual clock: entry, lockout, every test, audit and outbox."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest

from firmware import config as config_mod
from firmware.device import Devices, sim_devices
from firmware.runtime import Runtime
from firmware.store import Store
from firmware.store.outbox import Outbox
from firmware.tech.audit import AuditLog
from firmware.tech.code import make_verifier
from firmware.tech.diag_events import ConsoleEnter
from firmware.tech.diag_machine import TechnicianMode, TechRules
from firmware.tech.home import DeviceHome
from firmware.tech.session import TechnicianSession, wire
from hal.clock import VirtualClock
from hal.keypad import LAYOUTS, SimKeypad
from hal.line import SimParty
from sim.loopback import LoopbackAudioPort

CODE = "480213"
TEST_NUMBER = "9580"
ALL_KEYS = [k for row in LAYOUTS["4x3"] for k in row]
WALL_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def wall(at: float) -> datetime:
    return WALL_START + timedelta(seconds=at)


@dataclass
class Bench:
    clock: VirtualClock
    runtime: Runtime
    devices: Devices
    store: Store
    said: list[str] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)

    def keys(self, at: float, keys: str, press: float = 0.1, gap: float = 0.1) -> float:
        keypad = self.devices.keypad
        assert isinstance(keypad, SimKeypad)
        for i, key in enumerate(keys):
            start = at + i * (press + gap)
            self.clock.call_at(start, partial(keypad.press, key))
            self.clock.call_at(start + press, partial(keypad.release, key))
        return at + len(keys) * (press + gap)

    def hook(self, at: float, on: bool) -> None:
        hook = self.devices.hook
        self.clock.call_at(at, hook.hang_up if on else hook.lift)  # type: ignore[attr-defined]

    def run(self, until: float) -> None:
        self.runtime.run_virtual(self.clock, until)

    def results(self) -> list[dict[str, Any]]:
        return [e for e in reversed(AuditLog(self.store).entries("diag_result"))]


@pytest.fixture
def bench(device_home: DeviceHome) -> Bench:
    (device_home.etc / "technician-code.json").write_text(json.dumps(make_verifier(CODE, n=2**4)))
    clock = VirtualClock()
    devices = sim_devices(config_mod.load(None), clock)
    devices.audio = LoopbackAudioPort(clock.now, loss_db=0.0)
    devices.line.parties[TEST_NUMBER] = SimParty(answer_after_s=1.0)  # type: ignore[attr-defined]
    session = TechnicianSession(TechnicianMode(ALL_KEYS, TechRules()), TEST_NUMBER)
    runtime = Runtime(clock, [session])
    store = device_home.store()
    b = Bench(clock, runtime, devices, store)
    wire(runtime, clock, device_home, store, devices, "en", b.said.append, TechRules(), wall)
    runtime.observe(b.records.append)
    for device in (devices.keypad, devices.hook, devices.audio, devices.line):
        device.start(runtime.post)
    b.hook(0.1, on=False)  # the technician holds the handset
    return b


def enter(b: Bench, at: float = 1.0, code: str = CODE) -> float:
    return b.keys(at, "*#*#" + code + "#")


def test_code_opens_the_menu_and_is_never_logged(bench: Bench) -> None:
    bench.run(enter(bench) + 1)
    assert "1 keys 2 hook 3 audio 4 line 5 link 6 status 7 errors 0 exit" in bench.said
    assert not any(r["event"] == "tech_verify_code" for r in bench.records)
    assert CODE not in json.dumps(AuditLog(bench.store).entries())
    assert AuditLog(bench.store).entries("diag_session")[0]["via"] == "keypad"


def test_three_wrong_codes_lock_technician_mode_for_the_set_time(bench: Bench) -> None:
    t = 1.0
    for _ in range(3):
        t = enter(bench, t, "111111") + 0.5
        bench.run(t)
    assert bench.said[-1] == "Technician mode locked for 5 min"
    locked_at = t - 0.5
    bench.run(locked_at + 290.0)
    after = enter(bench, locked_at + 290.0)  # inside the lockout: ignored
    bench.run(after + 1)
    assert "1 keys 2 hook 3 audio 4 line 5 link 6 status 7 errors 0 exit" not in bench.said
    bench.run(locked_at + 301.0)
    bench.run(enter(bench, locked_at + 301.0) + 1)  # just after: the code works again
    assert bench.said[-1].startswith("1 keys")
    assert [r["test"] for r in bench.results()] == ["code", "code", "code"]


def test_keypad_test_shows_each_key_and_passes_when_all_were_pressed(bench: Bench) -> None:
    t = bench.keys(enter(bench) + 0.5, "1")
    t = bench.keys(t + 0.2, "".join(ALL_KEYS))
    bench.run(t + 1)
    assert "Key 5 (" in " ".join(bench.said)
    result = bench.results()[-1]
    assert result["test"] == "keypad" and result["passed"] and sorted(result["detail"]["pressed"]) == sorted(ALL_KEYS)


@pytest.mark.parametrize(("last_key_at", "passed"), [(59.5, True), (60.5, False)])
def test_keypad_test_times_out_at_its_limit(bench: Bench, last_key_at: float, passed: bool) -> None:
    started = bench.keys(enter(bench) + 0.5, "1")  # the test starts when "1" goes down
    t = bench.keys(started, "".join(ALL_KEYS[:-1]))
    bench.keys(started - 0.2 + last_key_at, ALL_KEYS[-1])
    bench.run(started + 70)
    result = [r for r in bench.results() if r["test"] == "keypad"][-1]
    assert result["passed"] is passed
    if not passed:
        assert result["detail"]["missing"] == ["#"]
    assert t < started + 10


@pytest.mark.parametrize(("flash_ms", "passed"), [(300, True), (1000, True), (290, False), (1100, False)])
def test_hook_test_measures_the_flash(bench: Bench, flash_ms: int, passed: bool) -> None:
    t = bench.keys(enter(bench) + 0.5, "2")
    bench.hook(t + 1.0, on=True)
    bench.hook(t + 3.0, on=False)  # on hook for 2 s: a hang-up
    bench.hook(t + 5.0, on=True)
    bench.hook(t + 5.0 + flash_ms / 1000, on=False)
    bench.run(t + 70)
    result = [r for r in bench.results() if r["test"] == "hook"][-1]
    assert result["passed"] is passed
    assert result["detail"]["flashes_ms"] == [flash_ms]
    assert result["detail"]["on_hook"] and result["detail"]["off_hook"]


@pytest.mark.parametrize(("loss_db", "passed"), [(0.0, True), (2.5, True), (3.5, False), (20.0, False)])
def test_audio_loopback_level(bench: Bench, loss_db: float, passed: bool) -> None:
    bench.devices.audio.gain = 10 ** (-loss_db / 20)  # type: ignore[attr-defined]
    bench.run(bench.keys(enter(bench) + 0.5, "3") + 2)
    result = bench.results()[-1]
    assert result["test"] == "audio" and result["passed"] is passed
    assert result["detail"]["level_dbm0"] == pytest.approx(-10.0 - loss_db, abs=0.3)
    assert result["detail"]["peak_hz"] == pytest.approx(1004, abs=10)


def test_line_test_dials_the_test_number(bench: Bench) -> None:
    bench.run(bench.keys(enter(bench) + 0.5, "4") + 2)
    result = bench.results()[-1]
    assert result["test"] == "line" and result["passed"] and result["detail"]["number"] == TEST_NUMBER
    bench.devices.line.parties.clear()  # type: ignore[attr-defined]
    bench.run(bench.keys(bench.clock.now() + 0.5, "4") + 2)
    result = bench.results()[-1]
    assert not result["passed"] and result["detail"]["result"] == "unreachable"


def test_link_test_without_a_server_fails_with_the_reason(bench: Bench) -> None:
    bench.run(bench.keys(enter(bench) + 0.5, "5") + 2)
    result = bench.results()[-1]
    assert result["test"] == "link" and not result["passed"] and "error" in result["detail"]


def test_status_and_errors(bench: Bench, device_home: DeviceHome) -> None:
    bench.run(bench.keys(enter(bench) + 0.5, "6") + 1)
    status = bench.results()[-1]
    assert status["passed"] and status["detail"]["running"] == "a" and status["detail"]["slots"]["a"] == "good 1.0.0"
    AuditLog(bench.store).record("rollback", {"from_slot": "b", "reason": "not marked good after 3 starts"})
    bench.run(bench.keys(bench.clock.now() + 0.5, "7") + 1)
    errors = bench.results()[-1]
    assert not errors["passed"] and errors["detail"]["recent"][0]["what"] == "rollback"


def test_results_and_session_go_to_the_outbox(bench: Bench) -> None:
    t = bench.keys(enter(bench) + 0.5, "6")
    bench.run(bench.keys(t + 1, "0") + 1)
    kinds = [i.kind for i in Outbox(bench.store).pending()]
    assert kinds.count("tech.diag_session") == 2 and "tech.diag_result" in kinds
    end = AuditLog(bench.store).entries("diag_session")[0]
    assert end["event"] == "end" and end["results"] == {"status": True}
    assert bench.said[-1] == "Technician mode ended"


def test_idle_session_ends_by_itself(bench: Bench) -> None:
    t = enter(bench)
    bench.run(t + 119)
    assert bench.said[-1].startswith("1 keys")
    bench.run(t + 121)
    assert bench.said[-1] == "Technician mode ended"


def test_serial_console_opens_the_menu_without_a_code(bench: Bench) -> None:
    bench.runtime.post(ConsoleEnter(bench.clock.now()))
    bench.run(1.0)
    assert bench.said[-1].startswith("1 keys")
    assert AuditLog(bench.store).entries("diag_session")[0]["via"] == "console"


def test_spanish_messages(device_home: DeviceHome) -> None:
    from firmware.tech.messages import MESSAGES, render

    assert render("key_pressed", {"key": "5", "left": 3}, "es") == "Tecla 5 (faltan 3)"
    assert all({"en", "es"} <= set(v) for v in MESSAGES.values())


def test_entry_sequence_comes_from_the_settings() -> None:
    from firmware.tech.diag_events import Tell, VerifyCode
    from hal.events import KeyDown

    mode = TechnicianMode(ALL_KEYS, TechRules(entry_sequence="##0"))
    out = [c for i, k in enumerate("*#*#") for c in mode.handle(KeyDown(i, k))]
    assert mode.state == "normal" and not out
    for i, key in enumerate("##0123456#"):
        out = mode.handle(KeyDown(10 + i, key))
    assert mode.state == "verifying" and VerifyCode("123456") in out and Tell("checking_code") in out
