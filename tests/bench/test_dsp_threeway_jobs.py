"""The three-way bench hears its calls in worker processes; its figures must not depend on how many."""

from __future__ import annotations

import pytest

from bench.dsp_threeway import CorpusRun, run_corpus, worker_pool


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
