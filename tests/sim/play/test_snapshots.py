"""Snapshots of the main screens (pytest-textual-snapshot): a change to what a person sees fails here until the
new screen is looked at and accepted with `pytest --snapshot-update`."""

from __future__ import annotations

from pathlib import Path

from sim.play.cli import DEFAULT_WORLD
from sim.play.handset_app import HandsetApp
from sim.play.kiosk_app import KioskApp
from sim.play.kiosk_session import KioskSession
from sim.play.session import HandsetSession
from sim.scenario import load

SIZE = (120, 40)


def _handset(tmp_path: Path) -> HandsetApp:
    session = HandsetSession(load(DEFAULT_WORLD["handset"]), tmp_path / "device")
    return HandsetApp(session, save_path=tmp_path / "session.toml", realtime=False)


def _kiosk(tmp_path: Path) -> KioskApp:
    return KioskApp(KioskSession(load(DEFAULT_WORLD["kiosk"]), tmp_path / "kiosk"), realtime=False)


def test_handset_at_rest(snap_compare, tmp_path: Path) -> None:
    app = _handset(tmp_path)
    assert snap_compare(app, terminal_size=SIZE, run_before=lambda pilot: app.advance(1))
    app.close_world()


def test_handset_in_a_connected_call(snap_compare, tmp_path: Path) -> None:
    app = _handset(tmp_path)

    async def call(pilot) -> None:
        await pilot.press("space")
        app.advance(4)
        await pilot.press(*"1234", "number_sign", "3")
        app.advance(1)
        await pilot.press(*"5735550101", "number_sign")
        app.advance(10)
        await pilot.press("a")
        app.advance(9)
        await pilot.press("c")
        app.advance(31)

    assert snap_compare(app, terminal_size=SIZE, run_before=call)
    app.close_world()


def test_kiosk_receipt(snap_compare, tmp_path: Path) -> None:
    app = _kiosk(tmp_path)

    async def buy(pilot) -> None:
        app.advance(1)
        await pilot.press(*"4321", "number_sign")
        app.advance(2)
        await pilot.press("2")
        app.advance(1)
        await pilot.press("2")
        app.advance(1)
        await pilot.press("number_sign")
        app.advance(2)

    assert snap_compare(app, terminal_size=SIZE, run_before=buy)
    app.close_world()


def test_terminal_too_small(snap_compare, tmp_path: Path) -> None:
    app = _handset(tmp_path)
    assert snap_compare(app, terminal_size=(80, 24))
    app.close_world()
