"""The three-way benches hear their calls in worker processes: their figures must not depend on how many, and the
workers must not outlive a killed bench."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.dsp_threeway import CorpusRun, run_corpus
from bench.dsp_threeway_workers import worker_pool
from tests.paths import ROOT


def _figures(jobs: int) -> dict[str, object]:
    run = CorpusRun((0.0, 0.5), cpu_sample_s=0.0)
    with worker_pool(jobs) as workers:
        run_corpus([3], "tune", 0.02, 3, run, workers, jobs)
    hours = run.alarm_hours
    return {
        "corpus": run.corpus_figures("3", "tune"),
        "ours": {s: t.summary(hours) for s, t in run.ours.items()},
        "switch": run.switch.summary(hours),
        "baseline": {r: t.summary(hours) for r, t in run.base.items()},
        "by_line": {line: {s: t.summary(hours) for s, t in tallies.items()} for line, tallies in run.by_line.items()},
        "floor_hits": run.floor_hits,
        "calls": (run.n_pos, run.n_neg),
    }


@pytest.mark.slow
def test_one_worker_and_two_tally_the_same_calls_in_the_same_order() -> None:
    one, two = _figures(1), _figures(2)
    assert one == two
    assert one["calls"] == (3, 1)  # three attempts and one negative call: the tiny corpus as built


POOL_OWNER = """
import time
from bench.dsp_threeway_workers import worker_pool
workers = worker_pool(2)
for _ in range(2):
    workers.submit(time.sleep, 60)
print("ready", flush=True)
time.sleep(60)
"""


def _children(parent: int) -> set[int]:
    """The spawned workers of `parent` (its other child, multiprocessing's resource tracker, is not one)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
            if int(fields[1]) == parent and b"spawn_main" in cmdline:
                found.add(int(stat.parent.name))
    return found


def _alive(pids: set[int]) -> set[int]:
    """Those of `pids` still running: gone, or a zombie nobody reaped yet, is not."""
    alive = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                alive.add(pid)
    return alive


def test_workers_leave_when_the_bench_is_killed() -> None:
    """Killed (SIGKILL, or a SIGTERM that reaches only the bench), the bench's workers must not wait for their next
    call forever, holding their memory."""
    owner = subprocess.Popen([sys.executable, "-c", POOL_OWNER], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None and owner.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 30
        workers: set[int] = set()
        while len(workers) < 2 and time.monotonic() < deadline:
            workers = _children(owner.pid)
            time.sleep(0.1)
        assert len(workers) == 2, workers
    finally:
        owner.kill()
        owner.wait()
    deadline = time.monotonic() + 5
    while _alive(workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(workers), "workers outlived the bench"
