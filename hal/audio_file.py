"""Audio files in and out, all through libsndfile (the `soundfile` package): the one place that opens a WAV.

Reading gives the handset's format whatever the file holds: PCM of any width, float, G.711 mu-law and A-law
(WAV formats 7 and 6), any channel count and any rate from 4 to 192 kHz become 8 kHz mono int16. Anything else
gets an error that names the file and what is wrong with it. Writing makes 8 kHz 16-bit PCM WAV.
soundfile and soxr are imported on first use, so importing this module costs nothing at start-up.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hal.audio import SAMPLE_RATE, to_int16

#: The rates a recording may have to be converted: below 4 kHz is not speech, above 192 kHz is not a sound card.
LOWEST_RATE, HIGHEST_RATE = 4000, 192000


class AudioFileError(ValueError):
    """A file that cannot be read as audio; str() names the file and the reason."""


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
    if not LOWEST_RATE <= rate <= HIGHEST_RATE:
        raise AudioFileError(f"{path}: sample rate {rate} Hz is outside {LOWEST_RATE}-{HIGHEST_RATE} Hz")
    mono = frames.mean(axis=1)
    if rate != SAMPLE_RATE:
        import soxr

        mono = soxr.resample(mono, rate, SAMPLE_RATE, quality="HQ")
    return to_int16(mono * 32768.0)


def write_wav(path: Path, samples: np.ndarray) -> None:
    """Write int16 samples at 8 kHz as 16-bit PCM WAV: mono from one dimension, one channel a column from two."""
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), np.asarray(samples, dtype=np.int16), SAMPLE_RATE, format="WAV", subtype="PCM_16")
