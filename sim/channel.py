"""A simulated telephone channel: the impairments real far-end audio goes through before it reaches us.

G.711 mu-law round trip, the 300-3400 Hz voice band, white line noise at a given SNR, mains hum, and a hybrid
echo of our own signal. Used by the simulated world, the evaluation corpora and the benchmarks.
"""

from __future__ import annotations

import numpy as np

from firmware.dsp.levels import rms_for_dbm0
from hal.audio import SAMPLE_RATE

_MU = 255.0


def mulaw_roundtrip(samples: np.ndarray) -> np.ndarray:
    """Quantise through 8-bit mu-law (G.711) and back, as every PSTN hop does."""
    x = np.clip(np.asarray(samples, dtype=np.float64) / 32768.0, -1.0, 1.0)
    encoded = np.sign(x) * np.log1p(_MU * np.abs(x)) / np.log1p(_MU)
    code = np.round(encoded * 127.0) / 127.0
    decoded = np.sign(code) * ((1.0 + _MU) ** np.abs(code) - 1.0) / _MU
    return decoded * 32768.0


def bandpass_taps(low_hz: float = 300.0, high_hz: float = 3400.0, taps: int = 101) -> np.ndarray:
    """Linear-phase FIR (Hamming-windowed sinc) for the telephone voice band."""
    n = np.arange(taps) - (taps - 1) / 2

    def lowpass(fc: float) -> np.ndarray:
        return 2 * fc / SAMPLE_RATE * np.sinc(2 * fc / SAMPLE_RATE * n)

    return (lowpass(high_hz) - lowpass(low_hz)) * np.hamming(taps)


def voiceband(samples: np.ndarray) -> np.ndarray:
    return np.convolve(np.asarray(samples, dtype=np.float64), bandpass_taps(), mode="same")


def add_noise(
    samples: np.ndarray, snr_db: float, rng: np.random.Generator, reference_dbm0: float | None = None
) -> np.ndarray:
    """White noise `snr_db` below the signal's RMS (or below `reference_dbm0`, for a fixed floor)."""
    x = np.asarray(samples, dtype=np.float64)
    if reference_dbm0 is None:
        signal_rms = float(np.sqrt(np.mean(x * x))) if x.size else 0.0
    else:
        signal_rms = rms_for_dbm0(reference_dbm0)
    return x + rng.normal(0.0, signal_rms * 10 ** (-snr_db / 20), x.shape)


def add_hum(samples: np.ndarray, level_dbm0: float, mains_hz: float = 60.0) -> np.ndarray:
    """Mains hum with its odd harmonics, as a badly grounded line picks it up."""
    t = np.arange(len(samples)) / SAMPLE_RATE
    amp = rms_for_dbm0(level_dbm0) * np.sqrt(2)
    hum = sum(amp / k * np.sin(2 * np.pi * mains_hz * k * t) for k in (1, 3, 5))
    return np.asarray(samples, dtype=np.float64) + hum


def add_echo(samples: np.ndarray, ours: np.ndarray, loss_db: float, delay_ms: float = 8.0) -> np.ndarray:
    """Our own outgoing signal reflected back by the 2-to-4-wire hybrid, `loss_db` down and delayed."""
    delay = round(delay_ms * SAMPLE_RATE / 1000)
    echo = np.zeros(len(samples))
    src = np.asarray(ours, dtype=np.float64)[: max(0, len(samples) - delay)]
    echo[delay : delay + len(src)] = src * 10 ** (-loss_db / 20)
    return np.asarray(samples, dtype=np.float64) + echo


def telephone(samples: np.ndarray, rng: np.random.Generator, snr_db: float | None = 35.0) -> np.ndarray:
    """The usual path: voice band, line noise, then mu-law. Returns float samples on the int16 scale."""
    x = voiceband(samples)
    if snr_db is not None:
        x = add_noise(x, snr_db, rng)
    return mulaw_roundtrip(np.clip(x, -32768, 32767))
