"""`python -m bench.line --quick` runs end to end against SIPp and baresip and writes its report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import ROOT


@pytest.mark.hardware
def test_line_bench_quick_mode_measures_every_figure(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.line", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "line.json").read_text())
    assert results["delay"]["packet_in_to_frame"]["n"] > 50
    assert results["delay"]["frame_to_packet_out"]["n"] > 50
    assert results["cpu"]["ours_cpu_percent"] > 0 and results["cpu"]["baresip_cpu_percent"] >= 0
    assert results["detection"]["loss_5pct"]["packets_dropped"] > 0
    assert "packet in to frame" in (tmp_path / "line.md").read_text()
