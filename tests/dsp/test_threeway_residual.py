"""The prediction residual: music is predictable, a click is not."""

from __future__ import annotations

import numpy as np

from firmware.dsp.levels import rms_for_dbm0
from firmware.dsp.threeway_residual import HISTORY, residual_powers
from firmware.dsp.tones import sines
from hal.audio import SAMPLE_RATE

SUB = 20  # samples per 2.5 ms sub-block


def _chord_with_click(click_at: int) -> np.ndarray:
    """A bright chord at -15 dBm0 (up to 3.3 kHz: music that fills the band a click is looked for in) with a 5 ms
    click at -20 dBm0 in it."""
    x = sines((440.0, 1320.0, 2640.0, 3300.0), [-21.0] * 4, 1.0)
    x[click_at : click_at + 40] += rms_for_dbm0(-20.0) * np.sqrt(2) * np.sign(np.sin(np.arange(40)))
    return x


def test_a_click_in_bright_music_stands_far_over_the_residual_where_the_raw_signal_hides_it() -> None:
    at = SAMPLE_RATE // 2
    x = _chord_with_click(at)
    n = len(x) // 160
    resid = 10 * np.log10(residual_powers(x, n) + 1e-9)
    raw = 10 * np.log10(np.mean(x[: n * 160].reshape(-1, SUB) ** 2, axis=1))
    k = at // SUB
    around = np.r_[k - 44 : k - 4, k + 20 : k + 60]
    assert resid[k] - np.median(resid[around]) >= 30.0
    assert raw[k] - np.median(raw[around]) <= 6.0


def test_the_residual_of_a_block_does_not_depend_on_how_the_stream_was_cut() -> None:
    """Each frame is predicted from the 40 ms before it, so a block fed with its history gives what the whole
    stream gives."""
    x = _chord_with_click(3000) + np.random.default_rng(1).normal(0.0, 30.0, SAMPLE_RATE)
    whole = residual_powers(x, len(x) // 160)
    start = 20 * 160
    part = residual_powers(x[start - HISTORY : start + 10 * 160], 10)
    np.testing.assert_allclose(part, whole[start // SUB : start // SUB + 80], rtol=1e-9)


def test_digital_silence_has_no_residual_and_no_error() -> None:
    assert not np.any(residual_powers(np.zeros(4000), 25))
