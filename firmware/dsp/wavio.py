"""Reading recordings for analysis: 8 kHz mono 16-bit is native; other rates, encodings and stereo are converted.

Anything libsndfile reads is accepted: PCM of any width, float, and the usual telephony recordings in G.711
mu-law and A-law (WAV formats 7 and 6). Anything else gets an error that names the file and what is wrong with it.
soundfile and soxr are imported on first use, so importing this module costs nothing at start-up.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hal.audio import SAMPLE_RATE


class AudioFileError(ValueError):
    pass


def read_wav(path: Path) -> np.ndarray:
    """Return the file as 8 kHz mono int16, decoding, downmixing channels and resampling as needed."""
    import soundfile

    path = Path(path)
    if not path.exists():
        raise AudioFileError(f"{path}: no such file")
    if path.is_dir():
        raise AudioFileError(f"{path}: is a directory, not a WAV file")
    if path.stat().st_size == 0:
        raise AudioFileError(f"{path}: the file is empty, not audio")
    try:
        with soundfile.SoundFile(str(path)) as src:
            rate = src.samplerate
            frames = src.read(dtype="float64", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        reason = str(exc).split(": ", 1)[-1].strip() or "unreadable"
        raise AudioFileError(f"{path}: not an audio file soundfile can read ({reason})") from None
    if rate < 4000 or rate > 192000:
        raise AudioFileError(f"{path}: sample rate {rate} Hz is outside 4000-192000 Hz")
    mono = frames.mean(axis=1)
    if rate != SAMPLE_RATE:
        import soxr

        mono = soxr.resample(mono, rate, SAMPLE_RATE, quality="HQ")
    return np.clip(np.round(mono * 32768.0), -32768, 32767).astype(np.int16)
