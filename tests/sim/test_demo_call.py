"""The README's demo: a complete call on the simulated handset, and a WAV of both legs a person can listen to."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import soundfile

from firmware.dsp.levels import dbm0

DEMO = Path(__file__).resolve().parents[2] / "sim" / "scenarios" / "demo-call.toml"


def test_demo_call_runs_end_to_end_and_writes_both_legs(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "firmware", "sim", "run", str(DEMO), "--data-dir", str(tmp_path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    kinds = [r["event"] for r in records]
    for needed in ("prompt", "state", "dial", "connected", "ended", "cdr", "charge", "audio_written"):
        assert needed in kinds
    cdr = next(r for r in records if r["event"] == "cdr")
    recording, rate = soundfile.read(tmp_path / cdr["recording_ref"], dtype="int16")
    assert rate == 8000 and recording.shape[1] == 2
    assert abs(len(recording) / rate - cdr["connected_s"]) < 2, "the recording covers the connected call"
    assert dbm0(recording[:, 0]) > -40 and dbm0(recording[:, 1]) > -40, "both legs are in the recording"
    audio, rate = soundfile.read(tmp_path / "handset-audio.wav", dtype="int16", always_2d=True)
    assert (audio.shape[1], rate) == (2, 8000)
    connected_s = next(r for r in records if r["event"] == "connected")["t_ms"] / 1000
    talk = audio[round((connected_s + 5) * 8000) : round((connected_s + 60) * 8000)]
    assert dbm0(talk[:, 0]) > -40 and dbm0(talk[:, 1]) > -40, "both legs carry the conversation"
