"""Textual's pilot plays a complete debit call by hand on the simulated handset, as a newcomer would."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sim.play.cli import DEFAULT_WORLD
from sim.play.handset_app import HandsetApp
from sim.play.session import HandsetSession
from sim.scenario import load

SIZE = (120, 40)


def _app(tmp_path: Path) -> HandsetApp:
    session = HandsetSession(load(DEFAULT_WORLD["handset"]), tmp_path / "device")
    return HandsetApp(session, save_path=tmp_path / "session.toml", realtime=False)


def _events(app: HandsetApp, name: str) -> list[dict]:
    return [r for r in app.session.records if r["event"] == name]


def test_a_complete_debit_call_by_hand(tmp_path: Path) -> None:
    app = _app(tmp_path)

    async def play() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("space")
            app.advance(4)
            assert app.view.state == "pin_entry"
            await pilot.press(*"1234", "number_sign")
            app.advance(2)
            assert app.view.inmate_id == "A1001"
            await pilot.press("3")
            app.advance(1)
            await pilot.press(*"5735550101", "number_sign")
            app.advance(12)
            assert app.view.line == "ringing"
            await pilot.press("a")  # the called party answers
            app.advance(8)
            assert "You have a call from" in " ".join(p["text"] for p in _events(app, "prompt") if p["to"] == "line")
            await pilot.press("c")  # and accepts with 1
            app.advance(5)
            assert app.view.state == "connected"
            app.advance(35)
            assert any(p["id"] == "announcement" for p in _events(app, "prompt"))
            await pilot.press("space")  # the inmate hangs up
            app.advance(2)
            log = "\n".join(str(line.text) for line in app.query_one("#log").lines)
            assert "cdr" in log and "✔ committed" in log
        app.close_world()

    asyncio.run(play())
    [cdr] = _events(app, "cdr")
    assert cdr["call_type"] == "debit" and cdr["end_reason"] == "inmate_hung_up" and cdr["charge_cents"] > 0
    assert _events(app, "charge")[0]["cents"] == cdr["charge_cents"]
