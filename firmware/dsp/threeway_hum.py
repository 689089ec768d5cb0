"""Mains hum on the far end's loop: while it is heard, the far end's line is still in the call.

Hum is picked up on an analog local loop (a badly balanced or grounded line near power wiring), between the far
phone and its exchange; the rest of the path to the facility is digital. A mute, a hold button or a handset set
down silences the microphone but leaves the loop in the call, so its hum goes on. A three-way attempt puts the
facility's call on hold in the far exchange, which takes the loop out of the path, and its hum with it.

So a held line heard under the same hum as the call's own pauses is no hold in the network: it is what a quiet
line's mute sounds like, and the one case where the mute and the network hold differ in the audio.

Hum lines are narrow (the mains frequency and its harmonics, steady to a fraction of a hertz), so they are
measured in 0.5 s windows (2 Hz bins) against the bins beside them: a line standing `hum_stand_db` over its
neighbours. The windows advance every 0.25 s and are timed by their last sample, so a frame only uses the
windows a device streaming 20 ms frames has heard.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from firmware.dsp.threeway_config import ThreeWayConfig
from firmware.dsp.windows import StreamWindows
from hal.audio import SAMPLE_RATE

_WINDOW = SAMPLE_RATE // 2  # 0.5 s: 2 Hz bins, finer than hum's lines and far finer than talk's harmonics
_HOP = _WINDOW // 2
_BIN_HZ = SAMPLE_RATE / _WINDOW
#: 50 and 60 Hz mains and their harmonics to the eighth, except dial tone's 350 Hz and ringback's 480 Hz.
HUM_HZ = tuple(sorted({m * k for m in (50, 60) for k in range(1, 9)} - {350, 480}))
_NEAR = 1  # bins either side of a line's own that hold its power (the Hann window's main lobe)
_SIDE = (4, 12)  # the neighbour bins a line is judged against, either side
_KEPT_S = 60.0  # how much history of windows is kept: the 30 s looked back at, and the start of a hold
_DURING_MIN = 3  # windows of the held line that can tell (0.75 s or more of it): fewer say too little


class LineHum:
    """Feed every sample (`push`); ask whether the call's own hum stayed under a stretch (`stayed`)."""

    def __init__(self, cfg: ThreeWayConfig) -> None:
        self.cfg = cfg
        self._stream = StreamWindows(_WINDOW, _HOP)
        self._window = np.hanning(_WINDOW)
        bins = np.array([round(hz / _BIN_HZ) for hz in HUM_HZ])
        self._line_bins = bins[:, None] + np.arange(-_NEAR, _NEAR + 1)
        lo, hi = _SIDE
        side = np.r_[np.arange(-hi, -lo + 1), np.arange(lo, hi + 1)]
        self._side_bins = bins[:, None] + side
        # (window start, window end, which hum lines stood in it)
        self._heard: deque[tuple[float, float, np.ndarray]] = deque()
        self._own: tuple[float, np.ndarray] | None = None  # a hold's start, and the call's hum lines before it

    def push(self, samples: np.ndarray, at: float) -> None:
        """Samples whose first is at `at`; a gap in the times starts the windows afresh."""
        windows, ends = self._stream.push(samples, at)
        for window, end in zip(windows, ends.tolist(), strict=True):
            self._heard.append((end - _WINDOW / SAMPLE_RATE, end, self._stands(window)))
        while self._heard and self._heard[0][1] < at + len(samples) / SAMPLE_RATE - _KEPT_S:
            self._heard.popleft()

    def _stands(self, x: np.ndarray) -> np.ndarray:
        """Which hum lines stand `hum_stand_db` over their neighbours in this window."""
        power = np.abs(np.fft.rfft(x * self._window)) ** 2
        line = power[self._line_bins].mean(axis=1)
        side = np.median(power[self._side_bins], axis=1)
        return np.asarray(line > side * 10 ** (self.cfg.hum_stand_db / 10))

    def stayed(self, start: float, t: float) -> bool:
        """Whether a hum line of the call's own (standing in `hum_seen` windows of the `hum_lookback_s` before
        `start`) stood in most of the windows heard between `start` and `t`: the far end's loop was still in the
        call. The call's own lines are taken once per start, so a long hold keeps them."""
        cfg = self.cfg
        if self._own is None or self._own[0] != start:
            before = [s for a, b, s in self._heard if start - cfg.hum_lookback_s <= a and b <= start]
            own = np.sum(before, axis=0) >= cfg.hum_seen if before else np.zeros(len(HUM_HZ), dtype=bool)
            self._own = (start, own)
        own = self._own[1]
        during = [s[own] for a, b, s in self._heard if a >= start and b <= t]
        if len(during) < _DURING_MIN or not own.any():
            return False
        return bool(np.sum(during, axis=0).max() * 2 > len(during))
