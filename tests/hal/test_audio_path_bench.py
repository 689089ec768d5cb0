"""bench.audio_path --quick: the audio benchmark runs end to end on the PulseAudio null sink."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import ROOT

pytestmark = [pytest.mark.hardware, pytest.mark.timeout(240)]


def test_quick_run_measures_each_path_while_records_commit_and_a_recording_is_finalised(tmp_path: Path) -> None:
    env = {**os.environ, "PULSE_RUNTIME_PATH": os.environ.get("PULSE_RUNTIME_PATH", "/tmp/ringfence-pulse")}
    done = subprocess.run(
        [sys.executable, "-m", "bench.audio_path", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "audio_path.json").read_text())
    runs = {run["path"]: run for run in report["runs"]}
    assert set(runs) == {"worker", "synchronous (peer)", "audio only (floor)"}
    for name in ("worker", "synchronous (peer)"):
        assert runs[name]["records_committed"] >= 1 and runs[name]["recording_finalised"] is True
    assert runs["audio only (floor)"]["records_committed"] == 0
    for run in runs.values():
        assert run["frames"] > 0 and run["handling_max_ms"] >= run["handling_p99_9_ms"] >= run["handling_p50_ms"]
    assert (tmp_path / "audio_path.png").stat().st_size > 0
    assert "p99.9 frame handling, synchronous over worker" in (tmp_path / "audio_path.md").read_text()
