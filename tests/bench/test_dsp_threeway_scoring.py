"""How the three-way bench scores decisions: a late decision is a miss, yet its latency still counts."""

from __future__ import annotations

import numpy as np

from bench.dsp_threeway import MAX_LATENCY_S, Tally
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
