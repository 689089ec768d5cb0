"""`sim play --line sip`: Textual's pilot plays a debit call by hand to SIPp on loopback, in real time."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from textual.widgets import RichLog

from firmware.cli import main
from sim import sipp
from sim.play.cli import DEFAULT_WORLD
from sim.play.sip_app import SipHandsetApp
from sim.play.sip_session import SipHandsetSession
from sim.scenario import ScenarioError, load

SIZE = (120, 40)


def _config(tmp_path: Path, domain: str, backend: str = "sip") -> Path:
    path = tmp_path / "device.toml"
    path.write_text(
        f'[device]\nrole = "handset"\n[line]\nbackend = "{backend}"\ndomain = "{domain}"\n'
        'local_address = "127.0.0.1"\nsip_port = 0\n'
    )
    return path


async def _until(pilot, what: Callable[[], bool], seconds: float, records: list) -> None:
    deadline = time.monotonic() + seconds
    while not what():
        assert time.monotonic() < deadline, "; ".join(
            f"{r['t_ms']} {r['event']} {r.get('state') or r.get('id') or r.get('key') or ''}" for r in records
        )
        await pilot.pause(0.2)
    await pilot.pause(0.3)  # the screen shows the new records on its next tick


@pytest.mark.slow
@pytest.mark.hardware
def test_a_debit_call_by_hand_to_a_sip_peer(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with sipp.SippPeer(sipp.answer(ring_ms=1000, peer_hangs_up=False), timeout_s=90) as peer:
        session = SipHandsetSession(
            load(DEFAULT_WORLD["handset"]), tmp_path / "device", _config(tmp_path, f"127.0.0.1:{peer.port}")
        )
        app = SipHandsetApp(session)

        def events(name: str) -> list[dict]:
            return [r for r in session.records if r["event"] == name]

        async def play() -> None:
            async with app.run_test(size=SIZE) as pilot:
                await pilot.press("n")  # no skipping on a real line, and it says why
                assert "runs in real time" in app.notice
                await pilot.press("a")  # no called-party keys either
                assert app.notice.startswith("ignored:")
                await pilot.press("space")
                await _until(pilot, lambda: app.view.state == "pin_entry", 30, session.records)
                await pilot.press(*"1234", "number_sign")
                # The PIN is checked by scrypt at 128 MiB: at load average 20 the keys and the check took over 8 s.
                await _until(pilot, lambda: app.view.inmate_id == "A1001", 30, session.records)
                await pilot.press("3")
                await pilot.pause(1.0)
                # One key after another as the keypad takes them: a hand 120 ms apart on a starved machine had the
                # keypad read two presses of the same key as one long press (555 read as 55).
                for key in [*"5735550101", "number_sign"]:
                    released = len(events("key_up"))
                    await pilot.press(key)
                    await _until(pilot, lambda: len(events("key_up")) > released, 10, session.records)  # noqa: B023
                await _until(pilot, lambda: bool(events("line_answered")), 30, session.records)
                await _until(pilot, lambda: any(p["to"] == "line" for p in events("prompt")), 15, session.records)
                far = str(app.query_one("#far-end").render())
                assert "200 OK" in far and f"sip:5735550101@127.0.0.1:{peer.port}" in far, far
                await pilot.press("space")  # the inmate hangs up
                await _until(pilot, lambda: bool(events("cdr")), 10, session.records)
                log = "\n".join(str(line.text) for line in app.query_one("#log", RichLog).lines)
                assert any(line.startswith("✔") and " cdr " in line for line in log.splitlines())

        try:
            asyncio.run(play())
        finally:
            app.close_world()
        assert peer.wait(15) == 0, peer.errors()
    time.sleep(0.1)  # the mouthpiece's frames stop with the session: none reaches a closed audio port
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    [cdr] = events("cdr")
    assert cdr["call_type"] == "debit" and cdr["end_reason"] == "inmate_hung_up", cdr
    assert "You have a call from" in " ".join(p["text"] for p in events("prompt") if p["to"] == "line")


def _play(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["sim", "play", *args])
    return result.exit_code, result.output


def test_sip_play_needs_a_config(tmp_path: Path) -> None:
    code, out = _play("--line", "sip", "--data-dir", str(tmp_path / "d"))
    assert code == 2 and out == (
        "ringfence: error: --line sip needs --config DEVICE.toml with a [line] section (see examples/sip-line.toml)\n"
    )
    code, out = _play("--role", "kiosk", "--line", "sip", "--config", "examples/sip-line.toml")
    assert (code, out) == (2, "ringfence: error: --line sip plays a handset: a kiosk has no telephone line\n")


def test_a_missing_or_simulated_line_config_gets_one_line(tmp_path: Path) -> None:
    code, out = _play("--line", "sip", "--config", str(tmp_path / "nope.toml"), "--data-dir", str(tmp_path / "d"))
    assert (code, out) == (2, f"ringfence: error: {tmp_path / 'nope.toml'}: no such file\n")
    config = _config(tmp_path, "x", backend="sim")
    code, out = _play("--line", "sip", "--config", str(config), "--data-dir", str(tmp_path / "d"))
    assert code == 2 and out.startswith(f"ringfence: error: {config}: line.backend is 'sim'"), out


@pytest.mark.hardware
def test_a_sip_line_that_cannot_bind_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "device.toml"
    config.write_text('[line]\nbackend = "sip"\ndomain = "example.net"\nlocal_address = "192.0.2.77"\n')
    with pytest.raises(
        ScenarioError, match=r"device.toml: the SIP line cannot start \(line: cannot start: .+\)"
    ) as caught:
        SipHandsetSession(load(DEFAULT_WORLD["handset"]), tmp_path / "device", config)
    assert "\n" not in str(caught.value)
