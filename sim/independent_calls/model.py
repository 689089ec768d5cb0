"""The labelled call this generator hands out, and the level arithmetic every module shares.

Signals are built as float64 arrays in int16 units (full scale 32767) at 8 kHz, so a level in dBm0 means the same
thing everywhere: the project's own convention (firmware.dsp.levels, G.711's digital milliwatt).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from firmware.dsp.levels import DBM0_RMS
from hal.audio import SAMPLE_RATE

RATE = SAMPLE_RATE
FULL_SCALE = 32767.0

Signal = npt.NDArray[np.float64]


def rms(x: npt.ArrayLike) -> float:
    a = np.asarray(x, dtype=np.float64)
    return float(np.sqrt(np.mean(a * a))) if a.size else 0.0


def level_dbfs(x: npt.ArrayLike) -> float:
    """RMS relative to full scale, 20*log10(rms/32768): how hiss floors are usually quoted (-80..-40 dBFS)."""
    r = rms(x)
    return float("-inf") if r == 0.0 else 20 * float(np.log10(r / 32768.0))


def dbfs_rms(level: float) -> float:
    """RMS in int16 units of a noise at `level` dBFS."""
    return float(32768.0 * 10 ** (level / 20))


def scaled(x: Signal, target_rms: float) -> Signal:
    """`x` with its RMS set to `target_rms` (zeros stay zeros)."""
    r = rms(x)
    return x * (target_rms / r) if r > 0 else x


def active_level_dbm0(x: npt.ArrayLike) -> float:
    """Active speech level, a frame-based simplification of ITU-T P.56 method B.

    Why: speech is specified by its *active* level (the level while talking), not the RMS over its pauses. P.56 finds
    the threshold c where the level over the samples whose envelope exceeds c sits 15.9 dB above c; here the envelope
    is the 10 ms frame RMS with a 200 ms hangover.
    """
    a = np.asarray(x, dtype=np.float64)
    n = a.size // 80
    if n == 0 or not np.any(a):
        return float("-inf")
    frames = a[: n * 80].reshape(n, 80)
    env = np.sqrt(np.mean(frames * frames, axis=1))
    hang = 20
    padded = np.concatenate([np.zeros(hang - 1), env])
    env = np.lib.stride_tricks.sliding_window_view(padded, hang).max(axis=1)
    energy = float(np.mean(frames * frames))
    best = 10 * np.log10(energy)
    for c_db in np.arange(0.0, 91.0, 0.5):  # from a low threshold up: A - C shrinks until it reaches 15.9 dB
        activity = float(np.mean(env >= 10 ** (c_db / 20)))
        if activity <= 0:
            break
        a_db = 10 * np.log10(energy / activity)
        if a_db - c_db <= 15.9:
            best = a_db
            break
    return float(best - 20 * np.log10(DBM0_RMS))


def fit(x: Signal, n: int) -> Signal:
    """`x` cut or zero-padded to exactly `n` samples."""
    return x[:n] if x.size >= n else np.concatenate([x, np.zeros(n - x.size)])


def db(gain_db: float) -> float:
    return float(10 ** (gain_db / 20))


@dataclass(frozen=True)
class LabelledCall:
    """One far-end recording and what is in it.

    `flash_at`/`hold_end` are set only for three-way attempts: the first flash click (or the start of the hold when
    nothing clicks) and the moment the hold ends (the conference starts or the far party returns alone).
    `hold_kind` describes any hold in the call (a negative's hold button too); `clicked` is true only when a
    hookswitch flash is audible.
    """

    samples: npt.NDArray[np.int16]
    positive: bool
    flash_at: float | None
    hold_end: float | None
    variant: str
    line: str
    hold_kind: str | None
    clicked: bool
    notes: tuple[str, ...] = field(default=())

    @property
    def duration_s(self) -> float:
        return float(self.samples.size) / RATE

    def label(self) -> dict[str, object]:
        """Every label field, for labels.json."""
        return {
            "positive": self.positive,
            "flash_at": self.flash_at,
            "hold_end": self.hold_end,
            "variant": self.variant,
            "line": self.line,
            "hold_kind": self.hold_kind,
            "clicked": self.clicked,
            "notes": list(self.notes),
            "duration_s": round(self.duration_s, 4),
        }
