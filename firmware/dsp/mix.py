"""Generators and mixing for what the handset plays: DTMF keys, prompts and announcements at a set level.

Levels are in dBm0 (see levels.py). A prompt's level is its *active* level, measured over the frames that are not
silence, so a prompt with long pauses is not played louder than a dense one set to the same level.
"""

from __future__ import annotations

import numpy as np

from firmware.dsp.dtmf import KEY_FREQS
from firmware.dsp.levels import DBM0_RMS, rms_for_dbm0
from firmware.dsp.tones import sines
from hal.audio import FRAME_SAMPLES, SAMPLE_RATE, to_int16

#: Frames quieter than this are pauses, not part of a prompt's active level.
SILENCE_DBM0 = -55.0


def dtmf_key(
    digit: str, duration_s: float, level_dbm0: float = -7.0, twist_db: float = 0.0, freq_error: float = 0.0
) -> np.ndarray:
    """One key's tone pair (float, int16 scale): the low tone at `level_dbm0`, the high one `twist_db` above it,
    both frequencies off by the fraction `freq_error` (to test receivers at their limits)."""
    if digit not in KEY_FREQS:
        raise ValueError(f"{digit!r} is not a DTMF key (0-9, *, #, A-D)")
    low, high = KEY_FREQS[digit]
    return sines([low * (1 + freq_error), high * (1 + freq_error)], [level_dbm0, level_dbm0 + twist_db], duration_s)


def dtmf_string(
    digits: str,
    on_s: float = 0.07,
    off_s: float = 0.06,
    level_dbm0: float = -7.0,
    twist_db: float = 0.0,
    lead_s: float = 0.0,
) -> np.ndarray:
    """A dialled string: each key for `on_s`, `off_s` of silence after it, `lead_s` of silence first."""
    gap = np.zeros(round(off_s * SAMPLE_RATE))
    parts = [np.zeros(round(lead_s * SAMPLE_RATE))]
    for digit in digits:
        parts += [dtmf_key(digit, on_s, level_dbm0, twist_db), gap]
    return np.concatenate(parts)


def frame_levels(samples: np.ndarray, frame: int = FRAME_SAMPLES) -> np.ndarray:
    """RMS level in dBm0 of each whole frame (-inf for digital silence), all frames at once."""
    x = np.asarray(samples, dtype=np.float64)
    usable = len(x) - len(x) % frame
    ms = (x[:usable].reshape(-1, frame) ** 2).mean(axis=1)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(ms / DBM0_RMS**2)


def active_level(samples: np.ndarray) -> float:
    """Level in dBm0 over the frames that are not silence (-inf if it is all silence)."""
    x = np.asarray(samples, dtype=np.float64)
    levels = frame_levels(x)
    if levels.size == 0:
        return float("-inf")
    active = levels > SILENCE_DBM0
    if not active.any():
        return float("-inf")
    frames = x[: levels.size * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)[active]
    return float(10 * np.log10(np.mean(frames**2) / DBM0_RMS**2))


def at_level(samples: np.ndarray, level_dbm0: float) -> np.ndarray:
    """The samples scaled so their active level is `level_dbm0` (float; silence stays silence)."""
    x = np.asarray(samples, dtype=np.float64)
    current = active_level(x)
    if not np.isfinite(current):
        return x.copy()
    return x * (rms_for_dbm0(level_dbm0) / rms_for_dbm0(current))


def mix_into(stream: np.ndarray, prompt: np.ndarray, at_s: float, level_dbm0: float) -> np.ndarray:
    """`stream` with `prompt` added from `at_s` at the given active level, clipped to int16.

    The prompt is cut where the stream ends; the stream is never lengthened.
    """
    out = np.asarray(stream, dtype=np.float64).copy()
    start = round(at_s * SAMPLE_RATE)
    if start < 0:
        raise ValueError(f"a prompt cannot start before the stream (at {at_s} s)")
    part = at_level(prompt, level_dbm0)[: max(0, len(out) - start)]
    out[start : start + len(part)] += part
    return to_int16(out)
