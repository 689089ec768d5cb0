"""Real sounds for the evaluation corpus: Asterisk's English and Spanish prompts, its music on hold, espeak-ng voices.

Every source is split in two disjoint pools, "tune" and "eval" (by a hash of the file name or the voice), so the
calls a detector is tuned on and the calls it is evaluated on share no utterance, no voice and no music file.

Everything is loaded lazily, once per process, as 8 kHz float samples on the int16 scale. A missing package is one
clear error naming the directory and the Debian package that provides it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from firmware.dsp.levels import rms_for_dbm0
from hal.audio import SAMPLE_RATE
from hal.audio_file import read_wav
from sim.sounds import MOH, PACKAGES, SOUNDS

POOLS = ("tune", "eval")
#: espeak-ng voices of each pool: an English and a Spanish accent in both.
POOL_VOICES = {"tune": ("en-us", "es", "en-gb+m3"), "eval": ("en-us+f3", "es-419", "es-419+f2")}
ESPEAK_LINES = (
    "Hey, it's me. Can you hear me all right?",
    "Hold on a second, let me get a pen.",
    "Mom said she will come on Sunday if the car is fixed.",
    "I put money on your account yesterday.",
    "The kids are doing fine, they miss you.",
    "Hola, ¿cómo estás? Te extrañamos mucho.",
    "Espera un momento, voy a buscar a tu hermano.",
    "Mañana voy a depositar el dinero en tu cuenta.",
    "Los niños están bien, te mandan saludos.",
)


class CorpusError(RuntimeError):
    """A sound source the corpus needs is missing."""


#: Music files that stand in for every pool's while `other_music` is in force (the music bench).
_other_music: list[tuple[Path, ...]] = []


@contextlib.contextmanager
def other_music(paths: Sequence[Path]) -> Iterator[None]:
    """Music on hold (and in the room) from these files instead of the pool's while the block runs: the same calls
    with other music, to see how far the music rules carry to recordings they were not tuned on."""
    if not paths:
        raise CorpusError("no music files given")
    _other_music.append(tuple(paths))
    try:
        yield
    finally:
        _other_music.pop()


def _pool_of(name: str) -> str:
    return POOLS[hashlib.sha1(name.encode()).digest()[0] & 1]


def _check_pool(pool: str) -> None:
    if pool not in POOLS:
        raise CorpusError(f"unknown source pool {pool!r}; known: {', '.join(POOLS)}")


@functools.cache
def prompt_paths(pool: str = "tune") -> tuple[Path, ...]:
    """English and Spanish prompts of one pool (Debian installs them as en/ and es/, or en_US_*/ and es_MX_*/)."""
    _check_pool(pool)
    dirs = sorted({d for pattern in ("en", "en_*", "es", "es_*") for d in SOUNDS.glob(pattern) if d.is_dir()})
    paths = sorted({p.resolve() for d in dirs for p in d.glob("*.wav")})
    if not paths:
        raise CorpusError(f"{SOUNDS} holds no English or Spanish WAV prompts: install {PACKAGES}")
    return tuple(p for p in paths if _pool_of(f"{p.parent.name[:2]}/{p.name}") == pool)


@functools.cache
def music_paths(pool: str = "tune") -> tuple[Path, ...]:
    """Music on hold of one pool: the files alternate between the pools in name order."""
    _check_pool(pool)
    paths = tuple(sorted(MOH.glob("*.wav")))
    if len(paths) < 2:
        raise CorpusError(f"{MOH} holds fewer than two music files: install asterisk-moh-opsound-wav")
    return paths[POOLS.index(pool) :: 2]


@functools.cache
def _load(path: Path) -> np.ndarray:
    x = read_wav(path).astype(np.float64)
    nz = np.flatnonzero(np.abs(x) > 64)
    return x[nz[0] : nz[-1] + 1] if nz.size else x


@functools.cache
def espeak_utterances(pool: str = "tune") -> tuple[np.ndarray, ...]:
    """Synthesised voices of one pool (English and Spanish accents), cached on disk between runs."""
    _check_pool(pool)
    cache = Path(tempfile.gettempdir()) / "ringfence-espeak"
    cache.mkdir(exist_ok=True)
    out = []
    for voice in POOL_VOICES[pool]:
        for i, line in enumerate(ESPEAK_LINES):
            key = hashlib.sha1(f"{voice}|{line}".encode()).hexdigest()[:16]
            path = cache / f"{key}.wav"
            if not path.exists():
                try:
                    wav = subprocess.run(
                        ["espeak-ng", "-v", voice, "-s", str(150 + 10 * (i % 4)), "--stdout", line],
                        check=True,
                        capture_output=True,
                        timeout=30,
                    ).stdout
                except (OSError, subprocess.SubprocessError) as exc:
                    raise CorpusError(f"espeak-ng could not speak with voice {voice}: {exc}") from None
                # A file of this process's own, then renamed: two corpus builds at once each write whole files.
                with tempfile.NamedTemporaryFile(dir=cache, suffix=".tmp", delete=False) as tmp:
                    tmp.write(wav)
                Path(tmp.name).replace(path)
            out.append(_load(path))
    return tuple(out)


def utterance(rng: np.random.Generator, level_dbm0: float, pool: str = "tune") -> np.ndarray:
    """One spoken phrase of the pool (a real prompt 3 times in 4, else a synthetic voice) at the given RMS level."""
    if rng.random() < 0.75:
        paths = prompt_paths(pool)
        x = _load(paths[int(rng.integers(len(paths)))])
    else:
        voices = espeak_utterances(pool)
        x = voices[int(rng.integers(len(voices)))]
    return scale_to(x, level_dbm0)


def music(rng: np.random.Generator, seconds: float, level_dbm0: float, pool: str = "tune") -> np.ndarray:
    """A random stretch of the pool's music on hold (or of `other_music`'s while in force), looped if needed, at the
    given RMS level."""
    paths = _other_music[-1] if _other_music else music_paths(pool)
    x = _load(paths[int(rng.integers(len(paths)))])
    n = round(seconds * SAMPLE_RATE)
    start = int(rng.integers(max(1, len(x) - n)))
    reps = int(np.ceil((start + n) / len(x)))
    return scale_to(np.tile(x, reps)[start : start + n], level_dbm0)


def scale_to(x: np.ndarray, level_dbm0: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x * x))) if x.size else 0.0
    return x if rms == 0.0 else x * (rms_for_dbm0(level_dbm0) / rms)
