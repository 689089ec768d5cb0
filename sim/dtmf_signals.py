"""Seeded DTMF test signals: a hard random-digit file within Q.24's accept limits, sent through a telephone channel.

Every digit draws its own key, twist (-8 to +4 dB), level (both tones within -25 to -3 dBm0), frequency error (each tone
within +-1.5 %), duration (40-100 ms), following pause (40-150 ms) and line noise (12-30 dB below the digit);
the whole file then goes through the 300-3400 Hz band and G.711 mu-law. The same seed gives the same file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from firmware.dsp.dtmf import DIGITS, KEY_FREQS
from firmware.dsp.levels import rms_for_dbm0
from firmware.dsp.tones import sines
from hal.audio import SAMPLE_RATE, to_int16
from sim.channel import mulaw_roundtrip, voiceband


@dataclass(frozen=True)
class TrueDigit:
    digit: str
    start_s: float
    end_s: float
    level_dbm0: float  # low tone
    twist_db: float  # high tone minus low tone
    snr_db: float


@dataclass(frozen=True)
class DigitSpec:
    """Ranges the random digits are drawn from (uniformly)."""

    level_dbm0: tuple[float, float] = (-25.0, -3.0)  # both tones stay inside
    twist_db: tuple[float, float] = (-8.0, 4.0)
    freq_error: tuple[float, float] = (-0.015, 0.015)
    on_s: tuple[float, float] = (0.040, 0.100)
    off_s: tuple[float, float] = (0.040, 0.150)
    snr_db: tuple[float, float] = (12.0, 30.0)


def random_digits(
    count: int, seed: int, spec: DigitSpec = DigitSpec(), lead_s: float = 0.2
) -> tuple[np.ndarray, list[TrueDigit]]:
    """`count` random digits through a telephone channel: int16 samples and the truth for each digit."""
    rng = np.random.default_rng(seed)
    parts: list[np.ndarray] = [np.zeros(round(lead_s * SAMPLE_RATE))]
    truth: list[TrueDigit] = []
    t = lead_s
    noise_rms = rms_for_dbm0(-60.0)
    for _ in range(count):
        digit = DIGITS[rng.integers(len(DIGITS))]
        low_hz, high_hz = KEY_FREQS[digit]
        twist = rng.uniform(*spec.twist_db)
        low_min, low_max = spec.level_dbm0[0] - min(twist, 0.0), spec.level_dbm0[1] - max(twist, 0.0)
        level = rng.uniform(low_min, low_max)
        err_low, err_high = rng.uniform(*spec.freq_error, size=2)
        on = round(rng.uniform(*spec.on_s) * SAMPLE_RATE) / SAMPLE_RATE
        off = round(rng.uniform(*spec.off_s) * SAMPLE_RATE) / SAMPLE_RATE
        snr = rng.uniform(*spec.snr_db)
        tone = sines(
            [low_hz * (1 + err_low), high_hz * (1 + err_high)],
            [level, level + twist],
            on,
            phase=rng.uniform(0, 2 * np.pi),
        )
        segment = np.concatenate([tone, np.zeros(round(off * SAMPLE_RATE))])
        power = rms_for_dbm0(level) ** 2 + rms_for_dbm0(level + twist) ** 2
        noise_rms = float(np.sqrt(power) * 10 ** (-snr / 20))
        parts.append(segment + rng.normal(0.0, noise_rms, len(segment)))
        truth.append(TrueDigit(digit, t, t + on, level, twist, snr))
        t += on + off
    parts.append(rng.normal(0.0, noise_rms, round(0.2 * SAMPLE_RATE)))
    signal = mulaw_roundtrip(np.clip(voiceband(np.concatenate(parts)), -32768, 32767))
    return to_int16(signal), truth


def score(
    found: list[tuple[str, float]], truth: list[TrueDigit], early_s: float = 0.01, late_s: float = 0.1
) -> tuple[int, int]:
    """(correct, false) for detections given as (digit, reported start time).

    A detection belongs to the last true digit that began before it (allowing `early_s`); it is correct if the
    key matches, it came no later than `late_s` after that digit ended, and that digit was not already found.
    Everything else (wrong key, a second report of one digit, a report in a pause) is false.
    """
    starts = np.array([d.start_s for d in truth])
    taken = np.zeros(len(truth), dtype=bool)
    correct = false = 0
    for digit, at in found:
        i = int(np.searchsorted(starts, at + early_s, side="right")) - 1
        if i >= 0 and not taken[i] and truth[i].digit == digit and at <= truth[i].end_s + late_s:
            taken[i] = True
            correct += 1
        else:
            false += 1
    return correct, false
