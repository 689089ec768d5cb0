"""The README's demo call, run once per test session for the tests that only read what it printed and wrote."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.paths import ROOT

DEMO = ROOT / "sim" / "scenarios" / "demo-call.toml"


@dataclass(frozen=True)
class DemoRun:
    """`python -m firmware sim run demo-call.toml` on a new device: what it printed, and its data directory
    (copy it before running on it again)."""

    data_dir: Path
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """Each run of the demo is a whole simulated call: running it once for every reader saves one per reader."""
    where = tmp_path_factory.mktemp("demo")
    done = subprocess.run(
        [sys.executable, "-m", "firmware", "sim", "run", str(DEMO), "--data-dir", str(where / "sim")],
        cwd=where,
        check=False,
        capture_output=True,
        text=True,
        # A hang guard, not a bound: the demo is about 6 s of CPU, and took 73 s at load average 15-17 and more
        # than 120 s at 20 (2 cores).
        timeout=240,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    return DemoRun(where / "sim", done.returncode, done.stdout, done.stderr)
