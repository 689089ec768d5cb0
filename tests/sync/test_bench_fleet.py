"""bench.sync never hides a failed session: each is counted with its cause, first-wave failures apart."""

from __future__ import annotations

from pathlib import Path

from bench.sync import fleet_markdown
from bench.sync_facility import mutate, reference_facility
from bench.sync_fleet import bench_fleet, run_wave
from firmware.sync.conversation import RemoteError
from firmware.sync.device_session import SyncReport


def test_refused_and_retried_sessions_are_counted_with_their_cause() -> None:
    tries: dict[int, int] = {}

    def sync(index: int) -> SyncReport:
        tries[index] = tries.get(index, 0) + 1
        if index == 0 and tries[index] == 1:
            raise RemoteError("busy", "the server is busy; try again later")
        if index == 1:
            raise TimeoutError("link tcp://127.0.0.1:4242: nothing received for 5.0 s")
        return SyncReport(agree=True)

    wave = run_wave(4, sync)
    assert (wave["agreed"], wave["failed_devices"], wave["failed_sessions"]) == (3, 1, 4)
    assert wave["first_wave_failures"] == 2 and wave["retried_sessions"] == 3
    assert wave["causes"] == {
        "RemoteError: the other side reported busy: the server is busy; try again later": 1,
        "TimeoutError: link …: nothing received for …": 3,
    }


def test_a_small_fleet_of_two_facilities_on_sqlite_agrees_and_is_reported(tmp_path: Path) -> None:
    fleet = bench_fleet(tmp_path, str(tmp_path / "central.sqlite"), 6, 2, 1, 0.002, reference_facility, mutate)
    for wave in ("first_sync", "incremental_sync"):
        assert fleet[wave]["agreed"] == 6 and fleet[wave]["failed_sessions"] == 0
    table = "\n".join(fleet_markdown("fleet_sqlite", fleet))
    assert "| first_sync |" in table and "SQLite, 1 server process(es)" in table
