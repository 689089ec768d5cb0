"""SpanDSP (Debian libspandsp) as the reference peer: its DTMF receiver and supervisory tone receiver.

The C harness (bench/spandsp_harness.c) is compiled at bench time against the installed library; audio goes to it
as a raw s16le file and its reports come back as JSON lines, stamped by the sample count fed so far (in 20 ms
chunks, as a channel would feed it).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hal.audio import SAMPLE_RATE

_SOURCE = Path(__file__).with_name("spandsp_harness.c")
_BUILD = Path(tempfile.gettempdir()) / "ringfence-bench"


class SpanDspUnavailable(RuntimeError):
    pass


def harness() -> Path:
    """Compile the harness once per source change; needs gcc and libspandsp-dev."""
    if shutil.which("gcc") is None:
        raise SpanDspUnavailable("gcc is not installed")
    _BUILD.mkdir(parents=True, exist_ok=True)
    binary = _BUILD / "spandsp_harness"
    if not binary.exists() or binary.stat().st_mtime < _SOURCE.stat().st_mtime:
        done = subprocess.run(
            ["gcc", "-O2", "-o", str(binary), str(_SOURCE), "-lspandsp", "-lm"],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SpanDspUnavailable(
                f"cannot build the SpanDSP harness (is libspandsp-dev installed?): {done.stderr.strip()}"
            )
    return binary


@dataclass(frozen=True)
class Report:
    kind: str  # "start" or "end"
    name: str  # digit or tone name ("" for an end)
    at_s: float  # when the report was made: end of the 20 ms chunk that produced it


@dataclass(frozen=True)
class Run:
    reports: list[Report]
    seconds: float  # one pass over the whole signal in a single call (best of the repeats)
    samples: int

    @property
    def x_realtime(self) -> float:
        return self.samples / SAMPLE_RATE / self.seconds if self.seconds > 0 else float("inf")


def run(mode: str, samples: np.ndarray, repeats: int = 1) -> Run:
    """Run SpanDSP's "dtmf" or "progress" receiver over int16 samples."""
    with tempfile.NamedTemporaryFile(suffix=".raw") as raw:
        raw.write(np.ascontiguousarray(samples, dtype="<i2").tobytes())
        raw.flush()
        out = subprocess.run(
            [str(harness()), mode, raw.name, str(repeats)], capture_output=True, text=True, check=True
        ).stdout
    reports, seconds, count = [], 0.0, len(samples)
    for line in out.splitlines():
        record = json.loads(line)
        if record["kind"] == "timing":
            seconds, count = record["seconds"], record["samples"]
        else:
            reports.append(
                Report(record["kind"], record.get("digit", record.get("tone", "")), record["sample"] / SAMPLE_RATE)
            )
    return Run(reports, seconds, count)


def spans(run_: Run) -> list[tuple[str, float, float]]:
    """Pair start and end reports into (name, start_s, end_s); a span still open ends with the signal."""
    out: list[tuple[str, float, float]] = []
    open_: tuple[str, float] | None = None
    for report in run_.reports:
        if report.kind == "start":
            if open_ is not None:
                out.append((open_[0], open_[1], report.at_s))
            open_ = (report.name, report.at_s)
        elif open_ is not None:
            out.append((open_[0], open_[1], report.at_s))
            open_ = None
    if open_ is not None:
        out.append((open_[0], open_[1], run_.samples / SAMPLE_RATE))
    return out
