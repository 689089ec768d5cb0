"""Levels in dBm0 for 16-bit linear PCM.

Convention (ITU-T G.711): a sine with peak 32767 * 10**(-3.14/20) is 0 dBm0, i.e. the digital milliwatt sits
3.14 dB below full scale. So an RMS level L dBm0 corresponds to RMS = FULL_SCALE_RMS_0DBM0 * 10**(L/20).
"""

from __future__ import annotations

import numpy as np

#: RMS of a 0 dBm0 sine in int16 units (full-scale sine RMS 32767/sqrt(2), minus 3.14 dB).
DBM0_RMS = 32767.0 / np.sqrt(2.0) * 10 ** (-3.14 / 20)


def rms_for_dbm0(level_dbm0: float) -> float:
    return float(DBM0_RMS * 10 ** (level_dbm0 / 20))


def dbm0(samples: np.ndarray) -> float:
    """RMS level of the samples in dBm0 (-inf for digital silence)."""
    x = np.asarray(samples, dtype=np.float64)
    rms = float(np.sqrt(np.mean(x * x))) if x.size else 0.0
    return float("-inf") if rms == 0.0 else 20 * float(np.log10(rms / DBM0_RMS))


def sine_power_scale(window: np.ndarray) -> float:
    """What turns |X|**2 of a bin of `window`'s DFT into a sine's power in dBm0 units: a sine of RMS r reads
    |X| = r * sqrt(2) * sum(w) / 2 at its own frequency."""
    return float(1.0 / ((np.sqrt(2.0) * float(np.sum(window)) / 2.0) * DBM0_RMS) ** 2)
