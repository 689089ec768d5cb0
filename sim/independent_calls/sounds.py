"""Noises, transients and call-progress tones, synthesised with numpy only.

Why synthesised: no recording on disk may feed this corpus (the detector was tuned on recordings), so every hiss,
hum, crackle, click and tone is made here from its physical description.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from firmware.dsp.levels import rms_for_dbm0
from sim.independent_calls.model import RATE, Signal, scaled

Response = Callable[[Signal], Signal]


def fft_filter(x: Signal, response: Response) -> Signal:
    """Zero-phase filtering by a magnitude response given as a function of frequency in Hz."""
    if x.size == 0:
        return x
    n = int(2 ** np.ceil(np.log2(x.size + 256)))
    spec = np.fft.rfft(x, n)
    freqs = np.asarray(np.fft.rfftfreq(n, 1.0 / RATE), dtype=np.float64)
    return np.fft.irfft(spec * response(freqs), n)[: x.size]


def band(lo: float, hi: float, order: int = 4) -> Response:
    """Butterworth-like band-pass magnitude (either edge may be 0 / Nyquist to leave it open)."""

    def response(f: Signal) -> Signal:
        g = np.ones_like(f)
        if lo > 0:
            g = g / np.sqrt(1 + (lo / np.maximum(f, 1e-3)) ** (2 * order))
        if hi < RATE / 2:
            g = g / np.sqrt(1 + (f / hi) ** (2 * order))
        return g

    return response


def bandpass(x: Signal, lo: float, hi: float, order: int = 4) -> Signal:
    return fft_filter(x, band(lo, hi, order))


def colored_noise(
    rng: np.random.Generator, n: int, slope_db_oct: float, lo: float = 20.0, hi: float = 3900.0
) -> Signal:
    """Noise of unit RMS whose spectrum falls by `slope_db_oct` per octave (0 white, -3 pink, -6 brown)."""
    white = rng.standard_normal(n)
    power = slope_db_oct / (20 * np.log10(2.0))

    def response(f: Signal) -> Signal:
        return np.asarray(np.maximum(f, 10.0) ** power * band(lo, hi, 3)(f), dtype=np.float64)

    return scaled(fft_filter(white, response), 1.0)


def slow_gain(rng: np.random.Generator, n: int, depth_db: float, period_s: float) -> Signal:
    """A smooth random gain curve (linear factor) wandering within +-depth_db/2, knots every ~period_s."""
    knots = max(2, int(n / (period_s * RATE)) + 2)
    values = rng.uniform(-depth_db / 2, depth_db / 2, knots)
    t = np.linspace(0, knots - 1, n)
    curve = np.interp(t, np.arange(knots), values)
    return np.asarray(10 ** (curve / 20), dtype=np.float64)


def hum(rng: np.random.Generator, n: int, mains: float = 60.0) -> Signal:
    """Mains hum of unit RMS: the fundamental and harmonics (odd ones stronger), with a slight frequency drift."""
    t = np.arange(n) / RATE
    drift = 0.05 * np.sin(2 * np.pi * rng.uniform(0.01, 0.05) * t)
    out = np.zeros(n)
    for k in range(1, 9):
        amp = rng.uniform(0.3, 1.0) / k ** (0.6 if k % 2 else 1.2)
        out += amp * np.sin(2 * np.pi * k * (mains + drift) * t + rng.uniform(0, 2 * np.pi))
    return scaled(out, 1.0)


def crackle(rng: np.random.Generator, n: int, rate_per_s: float) -> Signal:
    """Loop crackle: clustered pops of random size (peak up to 1), each a millisecond-scale decaying burst."""
    out = np.zeros(n)
    count = rng.poisson(rate_per_s * n / RATE)
    centres = rng.integers(0, max(1, n), size=max(1, count // 4 + 1))
    for _ in range(count):
        pos = int(rng.choice(centres) + rng.normal(0, 0.4 * RATE)) % max(1, n)
        length = int(rng.integers(4, 40))
        burst = rng.standard_normal(length) * np.exp(-np.arange(length) / rng.uniform(2, 10))
        burst *= 10 ** rng.uniform(-1.3, 0) / max(1e-9, float(np.max(np.abs(burst))))
        end = min(n, pos + length)
        out[pos:end] += burst[: end - pos]
    return out


def hook_click(rng: np.random.Generator) -> Signal:
    """A hookswitch transient (peak 1, 12-38 ms): a step spike, contact bounce, loop ringing and broadband decay."""
    length = int(rng.uniform(0.012, 0.038) * RATE)
    t = np.arange(length) / RATE
    out = np.zeros(length)
    out[0] = rng.choice([-1.0, 1.0])
    for _ in range(int(rng.integers(0, 4))):
        k = int(rng.integers(2, max(3, length // 3)))
        out[k] += rng.uniform(-0.7, 0.7)
    ring_f = rng.uniform(300, 2500)
    out += rng.uniform(0.2, 0.6) * np.sin(2 * np.pi * ring_f * t) * np.exp(-t / rng.uniform(0.002, 0.006))
    out += rng.uniform(0.4, 0.9) * rng.standard_normal(length) * np.exp(-t / rng.uniform(0.001, 0.005))
    out += rng.uniform(-0.25, 0.25) * np.exp(-t / rng.uniform(0.002, 0.006))  # the DC step the coupling decays
    return out / float(np.max(np.abs(out)))


def key_click(rng: np.random.Generator) -> Signal:
    """A phone button's mechanical click (peak 1, ~5-12 ms): smaller and brighter than a hookswitch."""
    length = int(rng.uniform(0.005, 0.012) * RATE)
    t = np.arange(length) / RATE
    out = rng.standard_normal(length) * np.exp(-t / 0.0015) + np.sin(2 * np.pi * rng.uniform(1500, 3000) * t) * np.exp(
        -t / 0.002
    )
    return out / float(np.max(np.abs(out)))


def knock(rng: np.random.Generator) -> Signal:
    """A handset put down on a table or picked up (peak 1, 60-160 ms): a low thud with a short rattle."""
    length = int(rng.uniform(0.06, 0.16) * RATE)
    t = np.arange(length) / RATE
    out = np.sin(2 * np.pi * rng.uniform(70, 220) * t) * np.exp(-t / rng.uniform(0.01, 0.04))
    out += 0.4 * rng.standard_normal(length) * np.exp(-t / rng.uniform(0.002, 0.01))
    return out / float(np.max(np.abs(out)))


def tones(freqs: tuple[float, ...], seconds: float, level_dbm0: float, rng: np.random.Generator) -> Signal:
    """Sum of sines, each at `level_dbm0`, with 5 ms ramps."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    out = np.zeros(n)
    for f in freqs:
        out += np.sqrt(2) * rms_for_dbm0(level_dbm0) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    ramp = min(40, n // 2)
    if ramp:
        env = np.ones(n)
        env[:ramp] = np.linspace(0, 1, ramp)
        env[-ramp:] = np.linspace(1, 0, ramp)
        out *= env
    return out


DTMF_LOW = {"1": 697, "2": 697, "3": 697, "4": 770, "5": 770, "6": 770, "7": 852, "8": 852, "9": 852, "*": 941}
DTMF_LOW |= {"0": 941, "#": 941}
DTMF_HIGH = {"1": 1209, "4": 1209, "7": 1209, "*": 1209, "2": 1336, "5": 1336, "8": 1336, "0": 1336}
DTMF_HIGH |= {"3": 1477, "6": 1477, "9": 1477, "#": 1477}


def dtmf_digits(rng: np.random.Generator, digits: str, level_dbm0: float) -> Signal:
    """Key presses as dialled by a person: 60-180 ms tones, 60-400 ms gaps, the high tone 0-3 dB louder (twist)."""
    parts: list[Signal] = []
    for d in digits:
        on = rng.uniform(0.06, 0.18)
        twist = rng.uniform(0, 3)
        low = tones((DTMF_LOW[d],), on, level_dbm0 - twist / 2, rng)
        high = tones((DTMF_HIGH[d],), on, level_dbm0 + twist / 2, rng)
        parts += [low + high, np.zeros(int(rng.uniform(0.06, 0.4) * RATE))]
    return np.concatenate(parts) if parts else np.zeros(0)


def cadence(tone: Signal, on_s: float, off_s: float, seconds: float) -> Signal:
    """A tone keyed on/off (ringback, busy) for `seconds`; `tone` must be at least on_s long."""
    n = int(seconds * RATE)
    out = np.zeros(n)
    period = int((on_s + off_s) * RATE)
    on = int(on_s * RATE)
    for start in range(0, n, max(1, period)):
        seg = tone[: min(on, n - start)]
        out[start : start + seg.size] = seg
    return out
