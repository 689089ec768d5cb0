"""Sessions played by hand replay under the scenario runner with the same events, whatever the far end did."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim import runner
from sim.play import save
from sim.play.cli import DEFAULT_WORLD
from sim.play.far_end import FarEndIgnored
from sim.play.session import HandsetSession
from sim.scenario import load


def _session(tmp_path: Path) -> HandsetSession:
    return HandsetSession(load(DEFAULT_WORLD["handset"]), tmp_path / "device")


def _dial(session: HandsetSession) -> None:
    session.toggle_hook()
    session.advance(4)
    for key in "1234#3":
        session.key(key)
    session.advance(2)
    for key in "5735550101#":
        session.key(key)
    session.advance(12)  # the name is recorded, then the number dialed: it rings


def _replays(session: HandsetSession, tmp_path: Path) -> list[dict]:
    try:
        path = save.save(session, tmp_path / "session.toml")
    finally:
        session.close()
    result = runner.run(load(path), tmp_path / "replay")
    assert result.ok, (result.unmet, result.failures)
    assert [r for r in result.records if r["event"] != "audio_written"] == session.records
    return session.records


def test_an_answering_machine_and_a_hookflash_replay(tmp_path: Path) -> None:
    session = _session(tmp_path)
    session.network.mode = "machine"
    _dial(session)
    session.advance(10)
    session.flash()
    session.advance(5)
    records = _replays(session, tmp_path)
    assert any(r["event"] == "line_answered" for r in records)
    assert any(r["event"] == "hook_flash" for r in records)


def test_a_called_party_who_speaks_then_declines_replays(tmp_path: Path) -> None:
    session = _session(tmp_path)
    _dial(session)
    answered_at = session.network.answer()
    session.advance(answered_at - session.now + 1)
    session.network.act("speak", file="hello-world")
    session.advance(3)
    session.network.act("press", keys="2")
    session.advance(5)
    records = _replays(session, tmp_path)
    assert [r["reason"] for r in records if r["event"] == "ended"] == ["declined"]
    assert any(r["event"] == "prompt" and r["id"] == "cp_declined" for r in records)


def test_an_unreachable_number_replays(tmp_path: Path) -> None:
    session = _session(tmp_path)
    session.network.mode = "unreachable"
    _dial(session)
    session.advance(5)
    records = _replays(session, tmp_path)
    assert [r["state"] for r in records if r["event"] == "line_progress"] == ["sit"]


def test_one_number_that_behaved_two_ways_cannot_be_saved_as_one_party(tmp_path: Path) -> None:
    session = _session(tmp_path)
    try:
        _dial(session)
        session.network.answer()
        session.advance(8)
        session.network.act("hang_up")
        session.advance(5)
        session.toggle_hook()
        session.advance(70)  # past the facility's wait between calls
        _dial(session)
        session.advance(40)  # nobody answers this time
        with pytest.raises(ValueError, match="number 5735550101 was called twice and behaved differently"):
            save.save(session, tmp_path / "session.toml")
        assert not (tmp_path / "session.toml").exists()
        assert len(session.network.calls) == 2
    finally:
        session.close()


def test_answering_when_nothing_rings_is_ignored(tmp_path: Path) -> None:
    session = _session(tmp_path)
    try:
        with pytest.raises(FarEndIgnored):
            session.network.answer()
        with pytest.raises(FarEndIgnored):
            session.network.act("press", keys="1")
    finally:
        session.close()
