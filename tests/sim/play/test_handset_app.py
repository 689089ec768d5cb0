"""Textual's pilot plays a complete debit call by hand on the simulated handset, as a newcomer would."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.widgets import RichLog

from sim import runner
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
            log = "\n".join(str(line.text) for line in app.query_one("#log", RichLog).lines)
            assert any(line.startswith("✔") and " cdr " in line for line in log.splitlines())
        app.close_world()

    asyncio.run(play())
    [cdr] = _events(app, "cdr")
    assert cdr["call_type"] == "debit" and cdr["end_reason"] == "inmate_hung_up" and cdr["charge_cents"] > 0
    assert _events(app, "charge")[0]["cents"] == cdr["charge_cents"]


def _call_by_hand(app: HandsetApp):
    """Lift, PIN, debit, the number; the far end answers on the first ring it can and accepts."""

    async def steps(pilot) -> None:
        await pilot.press("space")
        app.advance(4)
        await pilot.press(*"1234", "number_sign", "3")
        app.advance(1)
        await pilot.press(*"5735550101", "number_sign")
        app.advance(10)
        await pilot.press("a")
        app.advance(9.3)
        await pilot.press("s")
        app.advance(1.7)
        await pilot.press("c")
        app.advance(20)
        await pilot.press("t")  # a three-way attempt: flash, hold, conference
        app.advance(10)

    return steps


@pytest.mark.slow
def test_a_saved_session_replays_with_the_same_events_under_sim_run(tmp_path: Path) -> None:
    app = _app(tmp_path)

    async def play() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await _call_by_hand(app)(pilot)
            await pilot.press("space")
            app.advance(3)
            await pilot.press("ctrl+s")
            assert "saved" in app.notice
        app.close_world()

    asyncio.run(play())
    saved = load(tmp_path / "session.toml")
    assert saved.audio and saved.parties[0].answer_after_rings is not None
    replay = runner.run(saved, tmp_path / "replay")
    assert replay.ok, (replay.unmet, replay.failures)
    assert [r for r in replay.records if r["event"] != "audio_written"] == app.session.records
    assert [a.do for a in saved.parties[0].actions] == ["speak", "press", "three_way"]


def test_keys_that_mean_nothing_now_are_shown_as_ignored(tmp_path: Path) -> None:
    app = _app(tmp_path)

    async def play() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("f")
            assert app.notice == "ignored: hookflash: the handset is on the hook"
            await pilot.press("a")
            assert app.notice == "ignored: answer: no call is ringing at the far end"
            await pilot.press("c")
            assert app.notice == "ignored: key 1: the far end has not answered"
            await pilot.press("z")
            assert app.notice == "ignored: 'z' is not a key here"
            assert app.is_running
        app.close_world()

    asyncio.run(play())
    assert app.session.steps == [] and app.session.network.calls == []


def test_a_busy_line_chosen_on_the_called_party_panel(tmp_path: Path) -> None:
    app = _app(tmp_path)

    async def play() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("m")
            assert app.session.network.mode == "busy"
            await pilot.press("space")
            app.advance(4)
            await pilot.press(*"1234", "number_sign", "3")
            app.advance(1)
            await pilot.press(*"5735550101", "number_sign")
            app.advance(10)
        app.close_world()

    asyncio.run(play())
    assert [r["state"] for r in app.session.records if r["event"] == "line_progress"] == ["busy"]


def test_a_terminal_too_small_gets_a_clear_message(tmp_path: Path) -> None:
    app = _app(tmp_path)

    async def play() -> None:
        async with app.run_test(size=(60, 20)) as pilot:
            await pilot.pause()
            message = str(app.query_one("#too-small").render())
            assert "60×20" in message and "needs at least 100×30" in message
            assert app.screen.has_class("small")
            await pilot.resize_terminal(120, 40)
            await pilot.pause()
            assert not app.screen.has_class("small")
        app.close_world()

    asyncio.run(play())


def test_the_log_filters_and_time_skips_a_minute(tmp_path: Path) -> None:
    app = _app(tmp_path)

    async def play() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("space")
            app.advance(1)
            await pilot.press("slash", *"off_hook", "enter")
            lines = [str(line.text) for line in app.query_one("#log", RichLog).lines]
            assert len(lines) == 1 and "off_hook" in lines[0]
            before = app.session.now
            await pilot.press("n")
            assert app.session.now == pytest.approx(before + 60)
            assert app.view.state == "farewell", "a minute without a PIN: the handset gave up"
            await pilot.press("right_square_bracket", "right_square_bracket")
            assert app.speed == 5
        app.close_world()

    asyncio.run(play())
