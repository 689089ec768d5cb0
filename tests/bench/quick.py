"""Running a bench's --quick mode from a test, the one way every bench test does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.paths import ROOT


def run_quick(module: str, out: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """`python -m MODULE --quick --out OUT [OPTIONS]` from the repository root: it must exit 0 without a
    traceback."""
    result = subprocess.run(
        [sys.executable, "-m", module, "--quick", "--out", str(out), *options],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    return result
