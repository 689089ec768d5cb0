"""What is left of each frame once the sound before it is predicted away: where a click over music shows.

Music and voices are predictable from the last few milliseconds (a linear predictor, fitted by least squares on
the 40 ms before each frame, follows their partials and formants); a hookswitch click is an impulse that no
predictor of what came before foresees. So in the prediction residual the closing click of a hookflash into music
stands well above the music around it, whatever the music's spectrum, where in the raw signal the music's own
notes bury it. The residual's floor is G.711's own quantising noise, about 38 dB under the signal.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from firmware.dsp.threeway_config import FRAME, SUB, SUBS_PER_FRAME

ORDER = 12  # predictor taps: six resonances, enough to whiten music and voice in a 4 kHz band
FIT = 2 * FRAME  # samples before a frame that its predictor is fitted on (40 ms)
HISTORY = FIT + ORDER  # samples before a frame that its residual needs
_WHITE = 1e-4  # a -40 dB white floor added to the fit: G.711's noise bounds how far music can be whitened
_FIT_WIN = np.hanning(FIT)


def residual_powers(joined: np.ndarray, n: int) -> np.ndarray:
    """The mean power of the prediction residual in each 2.5 ms sub-block of the last `n` frames of `joined`
    (which holds at least `HISTORY` samples before them, or zeros where the stream had not started)."""
    need = HISTORY + n * FRAME
    x = joined[-need:] if len(joined) >= need else np.concatenate([np.zeros(need - len(joined)), joined])
    starts = HISTORY + FRAME * np.arange(n)  # each frame's first sample in x
    fit = sliding_window_view(x, FIT)[starts - FIT] * _FIT_WIN
    r = np.stack([np.sum(fit[:, : FIT - j] * fit[:, j:], axis=1) for j in range(ORDER + 1)], axis=1)
    r[:, 0] = r[:, 0] * (1.0 + _WHITE) + 1e-6  # digital silence fits to no prediction at all
    lags = np.abs(np.arange(ORDER)[:, None] - np.arange(ORDER)[None, :])
    coeffs = np.linalg.solve(r[:, lags], r[:, 1:, None])[:, :, 0]  # (n, ORDER): x[t] ~ sum a_j x[t - j]
    taps = np.concatenate([-coeffs[:, ::-1], np.ones((n, 1))], axis=1)  # oldest sample first
    windows = sliding_window_view(x, ORDER + 1)[(starts - ORDER)[:, None] + np.arange(FRAME)[None, :]]
    e = np.einsum("nmt,nt->nm", windows, taps)
    return np.mean(e.reshape(n * SUBS_PER_FRAME, SUB) ** 2, axis=1)
