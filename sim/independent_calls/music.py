"""Music on hold (and music in the far room), synthesised: chords, a melody, a bass, some rhythm, slow level drift.

Why synthesised: the detector's corpus holds to Asterisk's music-on-hold files; this one must not. Every call draws
a new track (key, mode, tempo, progression, timbres, rhythm), so no two holds share one tone pattern.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.independent_calls.model import RATE, Signal, fit, scaled
from sim.independent_calls.sounds import bandpass, slow_gain

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
#: Chord progressions as scale degrees (0 = tonic).
PROGRESSIONS = ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 4), (5, 3, 0, 4), (0, 3, 0, 4), (1, 4, 0, 0), (0, 2, 3, 4))
TIMBRES = ("pad", "pluck", "organ", "epiano", "bell")


@dataclass(frozen=True)
class Track:
    """One piece's parameters."""

    root_midi: int
    scale: tuple[int, ...]
    progression: tuple[int, ...]
    bpm: float
    chord_timbre: str
    melody_timbre: str
    rhythm: bool
    bass: bool
    swing: float


def random_track(rng: np.random.Generator) -> Track:
    return Track(
        root_midi=int(rng.integers(50, 62)),
        scale=MAJOR if rng.random() < 0.65 else MINOR,
        progression=PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))],
        bpm=float(rng.uniform(62, 132)),
        chord_timbre=str(rng.choice(TIMBRES)),
        melody_timbre=str(rng.choice(TIMBRES)),
        rhythm=bool(rng.random() < 0.6),
        bass=bool(rng.random() < 0.8),
        swing=float(rng.uniform(0, 0.12)),
    )


def _hz(midi: float) -> float:
    return float(440.0 * 2 ** ((midi - 69) / 12))


def _note(freq: float, seconds: float, timbre: str, rng: np.random.Generator) -> Signal:
    """One note: additive partials under an envelope that fits the timbre."""
    release = 0.08 if timbre in ("organ", "pad") else 0.25
    n = int((seconds + release) * RATE)
    t = np.arange(n) / RATE
    if timbre == "epiano":
        index = 2.0 * np.exp(-t / 0.3)
        wave = np.sin(2 * np.pi * freq * t + index * np.sin(2 * np.pi * 2 * freq * t))
    else:
        rolloff = {"pad": 1.3, "pluck": 1.0, "organ": 0.7, "bell": 1.6}[timbre]
        wave = np.zeros(n)
        for k in range(1, 9):
            partial = freq * (k if timbre != "bell" else k**1.2)
            if partial > 3600:
                break
            wave += np.sin(2 * np.pi * partial * t + rng.uniform(0, 6.28)) / k**rolloff
    if timbre == "pad":
        env = np.minimum(1.0, t / 0.25)
    elif timbre == "organ":
        env = np.minimum(1.0, t / 0.02)
    else:
        env = np.minimum(1.0, t / 0.005) * np.exp(-t / (0.35 if timbre == "pluck" else 0.8))
    env = env * np.clip((seconds + release - t) / release, 0.0, 1.0)
    return np.asarray(wave * env, dtype=np.float64)


def _add(out: Signal, start_s: float, note: Signal, gain: float) -> None:
    i = int(start_s * RATE)
    if i >= out.size:
        return
    seg = note[: out.size - i]
    out[i : i + seg.size] += gain * seg


def render(track: Track, seconds: float, rng: np.random.Generator) -> Signal:
    """The track for `seconds`, unit RMS, band-limited like a PBX feed (200-3600 Hz), with slow level drift."""
    n = int(seconds * RATE)
    out = np.zeros(n + RATE)
    beat = 60.0 / track.bpm
    bar = 4 * beat
    scale = track.scale

    def degree(d: int, octave: int = 0) -> float:
        return float(track.root_midi + 12 * (octave + d // 7) + scale[d % 7])

    t0, i = 0.0, 0
    while t0 < seconds:
        deg = track.progression[i % len(track.progression)]
        for voice in (0, 2, 4):
            _add(out, t0, _note(_hz(degree(deg + voice)), bar * 0.95, track.chord_timbre, rng), 0.18)
        if track.bass:
            for b in range(4 if track.rhythm else 2):
                step = bar / (4 if track.rhythm else 2)
                _add(out, t0 + b * step, _note(_hz(degree(deg, -2)), step * 0.8, "pluck", rng), 0.35)
        pos, pitch = 0.0, int(rng.integers(0, 7))
        while pos < bar - 1e-6:
            length = beat * float(rng.choice([0.5, 0.5, 1.0, 1.0, 1.5, 2.0]))
            if rng.random() < 0.8:
                pitch = int(np.clip(pitch + rng.integers(-2, 3), -3, 10))
                swing = track.swing * beat if (pos / beat) % 1 > 0.4 else 0.0
                note = _note(_hz(degree(pitch, 1)), length * 0.9, track.melody_timbre, rng)
                _add(out, t0 + pos + swing, note, 0.28)
            pos += length
        if track.rhythm:
            for b in range(8):
                hat = rng.standard_normal(int(0.03 * RATE)) * np.exp(-np.arange(int(0.03 * RATE)) / 40.0)
                _add(out, t0 + b * beat / 2, bandpass(hat, 2000, 3900), 0.05)
            for b in (0, 2):
                m = int(0.12 * RATE)
                kick = np.sin(2 * np.pi * 60 * np.arange(m) / RATE * (1 + np.exp(-np.arange(m) / 200.0)))
                _add(out, t0 + b * beat, kick * np.exp(-np.arange(m) / 500.0), 0.4)
        t0 += bar
        i += 1
    music = bandpass(out[:n], 200, 3600, 3) * slow_gain(rng, n, 4.0, 6.0)
    return scaled(music, 1.0)


def music(rng: np.random.Generator, seconds: float) -> Signal:
    """A new random track of `seconds`, unit RMS; a long hold may change track part way (a playlist)."""
    parts: list[Signal] = []
    left = seconds
    while left > 0:
        piece = min(left, float(rng.uniform(20, 60)))
        parts.append(render(random_track(rng), piece, rng))
        left -= piece
    out = np.concatenate(parts) if parts else np.zeros(0)
    return scaled(fit(out, int(round(seconds * RATE))), 1.0)
