"""The README's demo: a complete call on the simulated handset, and a WAV of both legs a person can listen to."""

from __future__ import annotations

import json

import soundfile

from firmware.dsp.levels import dbm0
from tests.sim.conftest import DemoRun


def test_demo_call_runs_end_to_end_and_writes_both_legs(demo_run: DemoRun) -> None:
    done, data_dir = demo_run, demo_run.data_dir
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    kinds = [r["event"] for r in records]
    for needed in ("prompt", "state", "dial", "connected", "ended", "cdr", "charge", "audio_written"):
        assert needed in kinds
    cdr = next(r for r in records if r["event"] == "cdr")
    recording, rate = soundfile.read(data_dir / cdr["recording_ref"], dtype="int16")
    assert rate == 8000 and recording.shape[1] == 2
    assert abs(len(recording) / rate - cdr["connected_s"]) < 2, "the recording covers the connected call"
    assert dbm0(recording[:, 0]) > -40 and dbm0(recording[:, 1]) > -40, "both legs are in the recording"
    audio, rate = soundfile.read(data_dir / "handset-audio.wav", dtype="int16", always_2d=True)
    assert (audio.shape[1], rate) == (2, 8000)
    connected_s = next(r for r in records if r["event"] == "connected")["t_ms"] / 1000
    talk = audio[round((connected_s + 5) * 8000) : round((connected_s + 60) * 8000)]
    assert dbm0(talk[:, 0]) > -40 and dbm0(talk[:, 1]) > -40, "both legs carry the conversation"
