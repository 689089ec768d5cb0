"""How the three-way bench scores decisions: a late decision is a miss, yet its latency still counts."""

from __future__ import annotations

import numpy as np

from bench.dsp_threeway import _comparison
from bench.dsp_threeway_margins import MAX_LATENCY_S
from bench.dsp_threeway_scoring import LISTED, Tally
from sim.corpus import Call


def _attempt(flash: float) -> Call:
    return Call("hiss_hold", True, "landline", np.zeros(8000), flash_times=[flash], hold=(flash, flash + 8.0))


def test_an_attempt_decided_after_3_s_is_a_miss_whose_latency_counts() -> None:
    tally = Tally()
    tally.score("quick", _attempt(10.0), [11.5])
    tally.score("late", _attempt(10.0), [10.0 + MAX_LATENCY_S + 0.02])
    tally.score("never", _attempt(10.0), [])
    summary = tally.summary(hours=1.0)
    assert (summary["detected"], summary["attempts"], summary["decided_late"]) == (1, 3, 1)
    assert summary["latency_max_s"] == MAX_LATENCY_S + 0.02
    assert [m.split(" ")[0] for m in summary["misses"]] == ["late", "never"]


def test_a_decision_at_3_s_is_in_time_and_one_before_the_flash_is_a_false_alarm() -> None:
    tally = Tally()
    tally.score("edge", _attempt(10.0), [9.5, 10.0 + MAX_LATENCY_S])
    summary = tally.summary(hours=1.0)
    assert (summary["detected"], summary["decided_late"], summary["false_alarms"]) == (1, 0, 1)
    assert summary["latency_max_s"] == MAX_LATENCY_S


def test_our_report_lists_every_miss_and_alarm_so_two_runs_compare_call_by_call() -> None:
    """Ours at sensitivity 0.5 lists them all; the baseline's, which run to hundreds, the first LISTED."""
    tally = Tally()
    for k in range(LISTED + 10):
        tally.score(f"call{k}", _attempt(10.0), [2.0])
    cmp = _comparison({0.5: tally}, {20.0: tally, 50.0: tally}, alarm_hours=1.0)
    assert len(cmp["ours"]["misses"]) == len(cmp["ours"]["alarms"]) == LISTED + 10
    assert len(cmp["baseline_default"]["misses"]) == len(cmp["baseline_default"]["alarms"]) == LISTED
