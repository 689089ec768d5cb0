"""The kinds of line a far end sits on, and what a held line sounds like on each.

Real lines differ in what fills the far end's silence and what fills a hold:

- **analog** loops (landline, cordless, speakerphone, headset): white hiss anywhere from -80 to -40 dBFS, mains
  hum (50 or 60 Hz) on some; a held line is the switch's hiss at its own level (which may be louder or quieter
  than the call's), its idle noise, digital silence, or music on hold.
- **mobile** and **VoIP**: the far end's pauses are replaced by comfort noise (RFC 3389 SID frames, G.711
  Appendix II: a level in 1 dB steps and a coarse spectral shape, refreshed a few times a second); a held line is
  comfort noise from another generator (another level and shape), digital silence, or music on hold.

Each call also goes through one G.711 law, mu-law or A-law.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from firmware.dsp.levels import rms_for_dbm0
from hal.audio import SAMPLE_RATE
from sim.channel import voiceband

SR = SAMPLE_RATE
#: dBm0 of a noise whose RMS is 0 dBFS (full-scale square wave): 0 dBm0 is 3.14 dB under a full-scale sine.
DBFS_TO_DBM0 = 3.01 + 3.14
HOLD_KINDS = ("hiss", "idle", "silence", "comfort", "music")
_A = 87.6


def line_of(far_end: str) -> str:
    return far_end if far_end in ("mobile", "voip") else "analog"


@dataclass(frozen=True)
class HoldFloor:
    """What the inmate hears while the far end is held: a kind and its level (None for digital silence)."""

    kind: str
    level_dbm0: float | None


def draw_hold_floor(rng: np.random.Generator, line: str, kind: str | None = None) -> HoldFloor:
    """A hold floor typical of the line (or of the given kind)."""
    if kind is None:
        weights = {
            "analog": {"hiss": 0.5, "idle": 0.25, "silence": 0.1, "music": 0.15},
            "mobile": {"comfort": 0.5, "silence": 0.3, "music": 0.2},
            "voip": {"comfort": 0.6, "silence": 0.2, "music": 0.2},
        }[line]
        kind = str(rng.choice(list(weights), p=list(weights.values())))
    level = {
        "hiss": rng.uniform(-80, -40) + DBFS_TO_DBM0,
        "idle": rng.uniform(-84, -72),
        "comfort": rng.uniform(-78, -48),
        "music": rng.uniform(-32, -16),
        "silence": None,
    }[kind]
    return HoldFloor(kind, None if level is None else float(level))


def hiss(rng: np.random.Generator, n: int, level_dbm0: float) -> np.ndarray:
    """White line hiss in the voice band."""
    return rng.normal(0.0, rms_for_dbm0(level_dbm0), n)


def comfort_noise(rng: np.random.Generator, n: int, level_dbm0: float, wander_db: float = 1.5) -> np.ndarray:
    """Comfort noise as a CNG decoder plays it: white noise under a smooth spectral shape (each new SID frame,
    every 100-500 ms, nudges the shape), at a level quantised to 1 dB that wanders by `wander_db`."""
    out = np.zeros(n)
    i = 0
    shape = rng.normal(0.0, 4.0, 3)  # dB weights of a few cosine terms across the band
    while i < n:
        seg = min(n - i, round(rng.uniform(0.1, 0.5) * SR))
        shape = shape + rng.normal(0.0, 0.5, 3)
        size = 1 << max(1, int(seg - 1).bit_length())
        f = np.fft.rfftfreq(size, 1 / SR) / (SR / 2)
        gain_db = sum(w * np.cos(np.pi * (k + 1) * f) for k, w in enumerate(shape))
        y = np.fft.irfft(np.fft.rfft(rng.normal(0.0, 1.0, size)) * 10 ** (gain_db / 20), size)[:seg]
        level = round(level_dbm0 + rng.uniform(-wander_db, wander_db))
        out[i : i + seg] = y * (rms_for_dbm0(level) / max(float(np.sqrt(np.mean(y * y))), 1e-9))
        i += seg
    return voiceband(out)


def alaw_roundtrip(samples: np.ndarray) -> np.ndarray:
    """Quantise through 8-bit A-law (G.711) and back, as European and many VoIP hops do."""
    x = np.clip(np.asarray(samples, dtype=np.float64) / 32768.0, -1.0, 1.0)
    a = np.abs(x)
    small = a < 1.0 / _A
    y = np.where(small, _A * a / (1 + np.log(_A)), (1 + np.log(np.maximum(_A * a, 1e-12))) / (1 + np.log(_A)))
    # A-law is mid-riser: 128 levels per sign, each decoded at its middle, so it has no zero (silence is +-8).
    code = (np.minimum(np.floor(y * 128.0), 127.0) + 0.5) / 128.0
    lin = np.where(
        code < 1.0 / (1 + np.log(_A)), code * (1 + np.log(_A)) / _A, np.exp(code * (1 + np.log(_A)) - 1.0) / _A
    )
    return np.where(x < 0, -1.0, 1.0) * lin * 32768.0
