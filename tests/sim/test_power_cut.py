"""A power cut mid-call: kill `ringfence sim run` at random moments; every committed record survives and no
call is charged twice, including after the restart that closes what the cut left open."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile

from tests.paths import ROOT

DEMO = ROOT / "sim" / "scenarios" / "demo-call.toml"


def run_cli(data_dir: Path, kill_after_s: float | None) -> tuple[list[dict], str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "firmware", "sim", "run", str(DEMO), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    if kill_after_s is not None:
        time.sleep(kill_after_s)
        proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=240)  # a hang guard: see tests/sim/conftest.py
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")], err


def db_rows(data_dir: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(data_dir / "ringfence.sqlite") as db:
        return db.execute(sql).fetchall()


@pytest.mark.slow
def test_killed_runs_lose_no_committed_record_and_never_charge_twice(tmp_path):
    rng = random.Random(4)
    data_dir = tmp_path / "device"
    printed_cdrs: set[str] = set()
    for _ in range(3):
        records, _ = run_cli(data_dir, rng.uniform(1.0, 3.5))
        printed_cdrs |= {r["call_id"] for r in records if r["event"] == "cdr"}
        if printed_cdrs:
            stored = {row[0] for row in db_rows(data_dir, "SELECT call_id FROM rules_cdr")}
            assert printed_cdrs <= stored, "a record printed as committed is missing after the cut"
    # The restarted device runs to the end: it closes what the cuts left open, then takes the next call (which the
    # rules may refuse: every run starts at the same wall-clock moment, so a cut call can be "just before").
    records, err = run_cli(data_dir, None)
    assert "Traceback" not in err and any(r["event"] == "cdr" for r in records)
    calls = db_rows(data_dir, "SELECT id, closed FROM rules_calls")
    assert calls and all(closed == 1 for _id, closed in calls), "a restart closes every call a cut left open"
    cdrs = db_rows(data_dir, "SELECT call_id, count(*) FROM rules_cdr GROUP BY call_id")
    assert {call_id for call_id, _ in cdrs} >= {call_id for call_id, _ in calls}
    assert all(n == 1 for _, n in cdrs)
    charges = db_rows(data_dir, "SELECT call_id, count(*) FROM rules_ledger WHERE kind = 'charge' GROUP BY call_id")
    assert all(n == 1 for _, n in charges)
    outbox_charges = db_rows(
        data_dir, "SELECT count(*) FROM outbox WHERE kind = 'ledger' AND json_extract(payload, '$.kind') = 'charge'"
    )[0][0]
    assert outbox_charges == sum(n for _, n in charges)


def test_a_call_cut_mid_way_is_closed_at_restart_and_billed_to_its_last_checkpoint(tmp_path):
    """Deterministic cut: the first run stops (as if the power went) 95 s into a connected call; the next start
    closes the call as power_loss, billed for the 90 s checkpointed, once, however often it restarts."""
    from tests.handset.helpers import HOME, dial_steps, of, party, press, run, scenario

    first = run(scenario(dial_steps(), [party(HOME, press(1.0, "1"))], until_s=200), tmp_path)
    connected = next(r for r in first if r["event"] == "connected")["t_ms"] / 1000
    assert not of(first, "cdr")
    cut = scenario(dial_steps(), [party(HOME, press(1.0, "1"))], until_s=connected + 95, audio=True)
    data_dir = tmp_path / "cut"
    run(cut, data_dir)
    assert not list((data_dir / "recordings").glob("*.flac")), "the call was cut: its FLAC file was never closed"
    restarts = [run(scenario([], until_s=1), data_dir) for _ in range(2)]
    recovered = [r for records in restarts for r in of(records, "cdr")]
    assert len(recovered) == 1
    cdr = recovered[0]
    assert cdr["end_reason"] == "power_loss" and cdr["connected_s"] == 90 and cdr["billed_minutes"] == 2
    assert cdr["recording_ref"] == f"recordings/{cdr['call_id']}.flac", "the recording up to the cut is kept"
    kept = soundfile.info(data_dir / cdr["recording_ref"])
    assert kept.format == "FLAC" and kept.channels == 2
    assert 90 <= kept.duration <= 95, "what was written up to the cut, at most a few seconds short"
    assert not list((data_dir / "recordings").glob("*.pcm")), "the journal is gone once the file is made"
    queued = db_rows(data_dir, "SELECT id, kind, path FROM sync_blobs_out")
    assert queued == [(f"{cdr['call_id']}.flac", "recording", str((data_dir / cdr["recording_ref"]).resolve()))]
    assert [r["cents"] for records in restarts for r in of(records, "charge")] == [16]
