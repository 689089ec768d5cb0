"""Tone generation: sums of sines at given dBm0 levels, with on/off cadences."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from firmware.dsp.levels import rms_for_dbm0
from hal.audio import SAMPLE_RATE


def sines(
    freqs_hz: Sequence[float],
    levels_dbm0: Sequence[float],
    duration_s: float,
    rate: int = SAMPLE_RATE,
    phase: float = 0.0,
) -> np.ndarray:
    """Float samples (int16 scale) of the given sines, each at its own RMS level in dBm0."""
    t = np.arange(round(duration_s * rate)) / rate
    out = np.zeros_like(t)
    for f, level in zip(freqs_hz, levels_dbm0, strict=True):
        out += rms_for_dbm0(level) * np.sqrt(2.0) * np.sin(2 * np.pi * f * t + phase)
    return out


def cadence(
    freqs_hz: Sequence[float], level_dbm0: float, pattern_s: Sequence[float], total_s: float, rate: int = SAMPLE_RATE
) -> np.ndarray:
    """A tone keyed by an on/off pattern (on, off, on, off, ...) repeated to total_s, each sine at level."""
    tone = sines(freqs_hz, [level_dbm0] * len(freqs_hz), total_s, rate)
    gate = np.zeros(len(tone), dtype=bool)
    i, on, period = 0, True, [round(p * rate) for p in pattern_s]
    k = 0
    while i < len(tone):
        n = period[k % len(period)]
        gate[i : i + n] = on
        i, on, k = i + n, not on, k + 1
    return np.where(gate, tone, 0.0)
