"""Textual's pilot makes a complete purchase on the simulated kiosk; the LCD is drawn as the HD44780 shows it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sim import runner
from sim.play import save
from sim.play.cli import DEFAULT_WORLD
from sim.play.kiosk_app import KioskApp
from sim.play.kiosk_session import KioskSession
from sim.play.lcd import as_shown
from sim.scenario import load

SIZE = (120, 40)


def _app(tmp_path: Path) -> KioskApp:
    return KioskApp(KioskSession(load(DEFAULT_WORLD["kiosk"]), tmp_path / "kiosk"), realtime=False)


def _lcd(app: KioskApp) -> list[str]:
    return str(app.query_one("#lcd").render()).splitlines()


def test_a_complete_purchase_by_hand(tmp_path: Path) -> None:
    app = _app(tmp_path)

    async def play() -> None:
        async with app.run_test(size=SIZE) as pilot:
            app.advance(1)
            assert _lcd(app)[0].startswith("PHONE MINUTES KIOSK")
            await pilot.press(*"4321", "number_sign")
            app.advance(2)
            assert _lcd(app)[1].startswith("2 Buy minutes")
            await pilot.press("2")
            app.advance(1)
            await pilot.press("2")  # $10
            app.advance(1)
            assert _lcd(app)[0].startswith("Buy $10.00?")
            await pilot.press("number_sign")
            app.advance(2)
            assert _lcd(app)[0].startswith("Purchase done")
            assert "PHONE MINUTES RECEIPT" in str(app.query_one("#receipt").render())
        app.close_world()

    asyncio.run(play())
    [purchase] = [r for r in app.session.records if r["event"] == "purchase"]
    assert purchase["status"] == "applied" and purchase["amount_cents"] == 1000


def test_the_central_server_cut_off_by_a_key_is_heard_by_the_kiosk_and_replays(tmp_path: Path) -> None:
    app = _app(tmp_path)

    async def play() -> None:
        async with app.run_test(size=SIZE) as pilot:
            app.advance(1)
            await pilot.press("u")
            app.advance(1)
            await pilot.press(*"4321", "number_sign")
            app.advance(3)
            await pilot.press("u")
            app.advance(1)
        app.close_world()

    asyncio.run(play())
    [account] = [r for r in app.session.records if r["event"] == "account"]
    assert account["online"] is False
    assert app.session.screen[0].startswith("Central unreachable")
    path = save.save_kiosk(app.session, tmp_path / "kiosk-session.toml")
    replay = runner.run(load(path), tmp_path / "replay")
    assert replay.ok, (replay.unmet, replay.failures)
    assert [r for r in replay.records if r["event"] != "central_account"] == app.session.records


def test_the_lcd_shows_only_what_the_character_rom_has() -> None:
    assert as_shown(["a\\b~c", "Espa\u00f1ol"], "A00") == ["a b c", "Espa\u00f1ol"]
    assert as_shown(["deg \u00b0"], "A00") == ["deg \uff9f"]  # the ROM's glyph at 0xDF


def test_the_clock_runs_by_itself_and_a_skip_is_worked_off_in_chunks(tmp_path: Path) -> None:
    app = KioskApp(KioskSession(load(DEFAULT_WORLD["kiosk"]), tmp_path / "kiosk"), realtime=True)

    async def play() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await asyncio.sleep(0.5)
            assert app.session.now > 0, "virtual time follows real time with no key pressed"
            await pilot.press("p")
            paused_at = app.session.now
            await asyncio.sleep(0.3)
            assert app.session.now == paused_at
            await pilot.press("n")
            await asyncio.sleep(0.3)
            assert paused_at < app.session.now <= paused_at + 60, "a skip runs even while paused, a chunk a tick"
            while app.skip_left > 0:
                await asyncio.sleep(0.1)
            assert app.session.now == pytest.approx(paused_at + 60)
        app.close_world()

    asyncio.run(play())
