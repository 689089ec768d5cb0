"""Reading recordings for analysis: 8 kHz mono 16-bit is native; other rates and stereo are converted.

Anything that is not a PCM WAV file gets an error that names the file and what is wrong with it.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import soxr

from hal.audio import SAMPLE_RATE


class AudioFileError(ValueError):
    pass


_DTYPES = {1: np.uint8, 2: np.dtype("<i2"), 4: np.dtype("<i4")}


def _why(path: Path, exc: Exception) -> str:
    """The wave module's reason, or what it left unsaid: an empty or cut-short file raises EOFError with none."""
    if str(exc):
        return str(exc)
    size = path.stat().st_size
    return "the file is empty" if size == 0 else f"the file ends after {size} bytes, inside the WAV header"


def read_wav(path: Path) -> np.ndarray:
    """Return the file as 8 kHz mono int16, downmixing channels and resampling as needed."""
    try:
        with wave.open(str(path), "rb") as src:
            channels, width, rate = src.getnchannels(), src.getsampwidth(), src.getframerate()
            raw = src.readframes(src.getnframes())
    except FileNotFoundError:
        raise AudioFileError(f"{path}: no such file") from None
    except (wave.Error, EOFError) as exc:
        raise AudioFileError(f"{path}: not a PCM WAV file ({_why(path, exc)})") from None
    if width not in _DTYPES:
        raise AudioFileError(f"{path}: {8 * width}-bit samples are not supported (8, 16 or 32-bit PCM)")
    if rate < 4000 or rate > 192000:
        raise AudioFileError(f"{path}: sample rate {rate} Hz is outside 4000-192000 Hz")
    samples = np.frombuffer(raw[: len(raw) - len(raw) % (width * channels)], dtype=_DTYPES[width])
    if width == 1:
        floats = (samples.astype(np.float64) - 128.0) / 128.0
    else:
        floats = samples.astype(np.float64) / float(2 ** (8 * width - 1))
    mono = floats.reshape(-1, channels).mean(axis=1)
    if rate != SAMPLE_RATE:
        mono = soxr.resample(mono, rate, SAMPLE_RATE, quality="HQ")
    return np.clip(np.round(mono * 32768.0), -32768, 32767).astype(np.int16)
