"""Far-party speech from espeak-ng, resampled to 8 kHz and cached on disk.

Why these voices: the detector's own corpus speaks with en-us, es, en-gb+m3, en-us+f3, es-419 and es-419+f2; this
generator uses none of them, so a detector that learnt those timbres gets no help here.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from sim.independent_calls.model import RATE, Signal

CACHE_VERSION = "1"


@dataclass(frozen=True)
class Voice:
    """An espeak-ng voice+variant and what it sounds like (for notes and for picking a different third party)."""

    name: str
    language: str  # "en" or "es"
    sex: str  # "m" or "f"


VOICES: tuple[Voice, ...] = (
    Voice("en-us+m7", "en", "m"),
    Voice("en-gb-x-rp+f4", "en", "f"),
    Voice("en-029+f2", "en", "f"),
    Voice("en-gb-scotland+m2", "en", "m"),
    Voice("es+m4", "es", "m"),
    Voice("es+f4", "es", "f"),
    Voice("es-419+m5", "es", "m"),
    Voice("es-419+f5", "es", "f"),
)

#: The voices the detector's own corpus uses: never ours.
FORBIDDEN_VOICES = frozenset({"en-us", "es", "en-gb+m3", "en-us+f3", "es-419", "es-419+f2"})

#: Speaking rates (words per minute) and pitches a talker is given; few values so the cache gets reused.
SPEEDS = (135, 150, 165, 180)
PITCHES = (30, 42, 54, 66)


def cache_dir() -> Path:
    """~/.cache/ringfence-independent (or $RINGFENCE_INDEPENDENT_CACHE), else a temp dir if home is read-only."""
    env = os.environ.get("RINGFENCE_INDEPENDENT_CACHE")
    base = Path(env) if env else Path.home() / ".cache" / "ringfence-independent"
    try:
        base.mkdir(parents=True, exist_ok=True)
        return base
    except OSError:
        fallback = Path(tempfile.gettempdir()) / "ringfence-independent"
        fallback.mkdir(parents=True, exist_ok=True)
        return fallback


def espeak_binary() -> str:
    path = shutil.which("espeak-ng")
    if path is None:
        raise RuntimeError(
            "espeak-ng was not found on PATH; install the Debian package espeak-ng (apt-get install espeak-ng)"
        )
    return path


def synthesize(voice: str, text: str, speed: int, pitch: int) -> Signal:
    """One utterance at 8 kHz, float in int16 units as espeak-ng made it (not levelled), leading/trailing quiet cut."""
    if voice in FORBIDDEN_VOICES:
        raise ValueError(f"voice {voice} belongs to the detector's own corpus")
    key = hashlib.sha1(f"{CACHE_VERSION}|{voice}|{speed}|{pitch}|{text}".encode()).hexdigest()
    path = cache_dir() / f"{key}.npy"
    if path.exists():
        try:
            return np.asarray(np.load(path), dtype=np.float64)
        except (OSError, ValueError):
            pass
    proc = subprocess.run(
        [espeak_binary(), "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text],
        capture_output=True,
        check=True,
        timeout=60,
    )
    data, rate = sf.read(io.BytesIO(proc.stdout), dtype="float32")
    if data.ndim > 1:
        data = data[:, 0]
    audio = np.asarray(soxr.resample(data, rate, RATE), dtype=np.float64) * 32767.0
    stored = _trim(audio).astype(np.float32)  # what the cache holds is what every run uses: fresh or cached, same bits
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, stored)
    os.replace(tmp, path)
    return np.asarray(stored, dtype=np.float64)


def _trim(x: Signal) -> Signal:
    """Cut espeak-ng's leading/trailing near-silence so pauses are ours to place."""
    if x.size == 0:
        return x
    env = np.abs(x)
    above = np.flatnonzero(env > max(30.0, 0.01 * float(env.max())))
    if above.size == 0:
        return x[:0]
    start = max(0, int(above[0]) - 40)
    end = min(x.size, int(above[-1]) + 80)
    return x[start:end]


def voices_for(language: str) -> tuple[Voice, ...]:
    return tuple(v for v in VOICES if v.language == language)
