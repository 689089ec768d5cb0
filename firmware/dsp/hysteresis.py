"""What the DTMF and call-progress detectors share: DFT bins, hysteresis over per-window labels, batch runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hal.audio import SAMPLE_RATE

#: Samples per step when a whole signal is analysed: a minute at a time keeps the working set in cache.
BATCH_SAMPLES = 60 * SAMPLE_RATE


def dft_basis(freqs: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    """Projection matrix (cos | -sin), block x 2F in float32, for single-bin DFTs of `block` samples, and the
    phase step of each frequency from one block to the next (so blocks can be chained into longer windows)."""
    n = np.arange(block)[:, None]
    arg = 2 * np.pi * freqs[None, :] * n / SAMPLE_RATE
    basis = np.hstack([np.cos(arg), -np.sin(arg)]).astype(np.float32)
    return basis, np.exp(-2j * np.pi * freqs * block / SAMPLE_RATE)


def spans_of_signal(
    samples: np.ndarray,
    feed: Callable[[np.ndarray, float], Sequence[Any]],
    finish: Callable[[], Sequence[Any]],
    label: Callable[[Any], str],
) -> list[tuple[str, float, float]]:
    """A streaming detector run over a whole signal a minute at a time, its start/end events paired into
    (label, start, end) spans: batch and streaming make the same decisions by construction."""
    x = np.asarray(samples)
    events: list[Any] = []
    for i in range(0, len(x), BATCH_SAMPLES):
        events += feed(x[i : i + BATCH_SAMPLES], i / SAMPLE_RATE)
    events += finish()
    spans: list[tuple[str, float, float]] = []
    opened: dict[str, float] = {}
    for event in events:
        if event.kind == "start":
            opened[label(event)] = event.at
        else:
            spans.append((label(event), opened.pop(label(event)), event.at))
    return spans


class LabelTracker:
    """Hysteresis over per-window labels (-1 = nothing): a label starts after `on` consecutive windows agree
    and ends after `off` windows without it, so short dropouts are bridged and short blips ignored.

    Fed label arrays in order (any chunking gives the same events); emits (kind, label, window index) where the
    index is the first window of a start or the last window holding the label at an end. Long runs of -1 cost
    O(1), so a whole signal of mostly nothing is cheap.
    """

    def __init__(self, on: int, off: int) -> None:
        self._on, self._off = on, off
        self.active = -1
        self._last = 0
        self._miss = 0
        self._cand = -1
        self._cand_n = 0
        self._cand_start = 0
        self._next = 0  # index of the next window to be fed

    @property
    def last(self) -> int:
        """Last window that held the active label."""
        return self._last

    def feed(self, labels: np.ndarray) -> list[tuple[str, int, int]]:
        out: list[tuple[str, int, int]] = []
        if labels.size == 0:
            return out
        if labels.max() < 0:  # the usual case: nothing at all in this stretch
            self._blank(labels.size, out)
            self._next += labels.size
            return out
        bounds = np.flatnonzero(np.diff(labels)) + 1
        starts = np.concatenate(([0], bounds))
        ends = np.concatenate((bounds, [labels.size]))
        base = self._next
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            label = int(labels[s])
            if label < 0:
                self._blank(e - s, out)
            else:
                for w in range(base + s, base + e):
                    self._step(w, label, out)
        self._next = base + labels.size
        return out

    def _blank(self, n: int, out: list[tuple[str, int, int]]) -> None:
        self._cand, self._cand_n = -1, 0
        if self.active >= 0:
            self._miss += n
            if self._miss >= self._off:
                out.append(("end", self.active, self._last))
                self.active = -1

    def _step(self, w: int, label: int, out: list[tuple[str, int, int]]) -> None:
        if label == self.active:
            self._last, self._miss, self._cand, self._cand_n = w, 0, -1, 0
            return
        if label == self._cand:
            self._cand_n += 1
        else:
            self._cand, self._cand_n, self._cand_start = label, 1, w
        if self.active >= 0:
            self._miss += 1
        if self._cand_n >= self._on:
            if self.active >= 0:
                out.append(("end", self.active, self._last))
            out.append(("start", label, self._cand_start))
            self.active, self._last, self._miss, self._cand, self._cand_n = label, w, 0, -1, 0
        elif self.active >= 0 and self._miss >= self._off:
            out.append(("end", self.active, self._last))
            self.active = -1

    def finish(self) -> list[tuple[str, int, int]]:
        """End a label still held when the signal stops."""
        if self.active < 0:
            return []
        out = [("end", self.active, self._last)]
        self.active = -1
        return out
