"""The detector's learned levels read medians and percentiles from a sorted window instead of sorting each time;
its decisions depend on those values being exactly numpy's."""

from __future__ import annotations

import numpy as np
import pytest

from firmware.dsp.threeway_levels import SortedWindow


@pytest.mark.parametrize("size", [1, 2, 10, 50, 250])
def test_sorted_window_gives_numpys_median_and_percentile_as_it_slides(size: int) -> None:
    rng = np.random.default_rng(size)
    window = SortedWindow(size)
    kept: list[float] = []
    # Repeated values (floors clamped at -100 dB, quantised levels) as well as continuous ones.
    values = np.concatenate([rng.normal(-50.0, 12.0, 150), np.round(rng.normal(-60.0, 5.0, 150)), np.full(20, -100.0)])
    for value in values:
        window.append(float(value))
        kept = [*kept, float(value)][-size:]
        assert len(window) == len(kept) and window.full == (len(kept) == size)
        assert window.median() == float(np.median(kept))
        for q in (1.0, 20.0, 50.0, 99.0):
            assert window.percentile(q) == float(np.percentile(kept, q)), (q, kept)


def test_sorted_window_starts_again_when_cleared() -> None:
    window = SortedWindow(3)
    for value in (5.0, -1.0, 7.0, 2.0):
        window.append(value)
    assert window.median() == 2.0  # -1, 7, 2: the oldest value (5) left
    window.clear()
    window.append(9.0)
    assert len(window) == 1 and window.median() == 9.0 and window.percentile(20.0) == 9.0
