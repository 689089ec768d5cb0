"""The three-way bench's peer: the early patents' low-pass energy pulse detector. No open three-way detector
exists, so the method is implemented here: a pulse (5 ms blocks) that rises `rise_db` above the preceding 200 ms and
has fallen back within 40 ms is a hookflash."""

from __future__ import annotations

import numpy as np

from hal.audio import SAMPLE_RATE


class EnergyPulseBaseline:
    """The patents' low-pass energy pulse detector: a short pulse far above the recent background is a flash."""

    BLOCK = 40  # 5 ms
    BACKGROUND = 40  # 200 ms before the pulse
    GUARD = 2
    AFTER = 8  # the pulse must have ended 40 ms later
    REFRACTORY_S = 5.0

    def __init__(self, samples: np.ndarray) -> None:
        x = np.asarray(samples, dtype=np.float64)
        n = len(x) // self.BLOCK
        # Low-pass first (the patents look at the low-frequency energy of the loop transient).
        lp = np.convolve(x, np.ones(8) / 8, mode="same")[: n * self.BLOCK]
        e = np.mean(lp.reshape(n, self.BLOCK) ** 2, axis=1) + 1.0
        c = np.concatenate([[0.0], np.cumsum(e)])
        i = np.arange(self.BACKGROUND + self.GUARD, max(self.BACKGROUND + self.GUARD, n - self.AFTER))
        bg = (c[i - self.GUARD] - c[i - self.GUARD - self.BACKGROUND]) / self.BACKGROUND
        self.times = i * self.BLOCK / SAMPLE_RATE
        self.rise = 10 * np.log10(e[i] / bg)
        self.after = 10 * np.log10(e[i + self.AFTER] / bg)

    def decisions(self, rise_db: float) -> list[float]:
        hits = self.times[(self.rise >= rise_db) & (self.after < rise_db / 2)]
        out: list[float] = []
        for t in hits:
            if not out or t - out[-1] >= self.REFRACTORY_S:
                out.append(float(t))
        return out
