"""Samples fed in blocks, cut into overlapping windows timed by their last sample: what a detector that listens in
long windows (mains hum, ringback under music) has heard by a frame, however the stream is cut into blocks."""

from __future__ import annotations

import numpy as np

from hal.audio import SAMPLE_RATE


class StreamWindows:
    """Windows of `size` samples every `hop` samples; a gap in the times starts them afresh."""

    def __init__(self, size: int, hop: int) -> None:
        self._size = size
        self._hop = hop
        self._samples = np.zeros(0)
        self._end_at: float | None = None  # the time just after the last sample pushed

    def push(self, samples: np.ndarray, at: float) -> tuple[np.ndarray, np.ndarray]:
        """Samples whose first is at `at`: the whole windows they complete (one a row) and the time just after
        each window's last sample."""
        if self._end_at is None or abs(at - self._end_at) > 1.0 / SAMPLE_RATE:
            self._samples = np.zeros(0)
        self._samples = np.concatenate([self._samples, samples])
        self._end_at = at + len(samples) / SAMPLE_RATE
        count = max(0, (len(self._samples) - self._size) // self._hop + 1)
        starts = np.arange(count) * self._hop
        windows = self._samples[starts[:, None] + np.arange(self._size)]
        ends = self._end_at - (len(self._samples) - starts - self._size) / SAMPLE_RATE
        self._samples = self._samples[count * self._hop :]
        return windows, ends
