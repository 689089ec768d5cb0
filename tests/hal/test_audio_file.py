"""Audio files through hal.audio_file: what is written reads back sample for sample; other rates, widths and
channel counts become 8 kHz mono int16; a file that is not audio is refused in one line naming it; and the one
int16 conversion rounds and clips instead of wrapping."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile

from hal.audio import to_int16
from hal.audio_file import AudioFileError, read_wav, write_wav


def test_a_mono_file_reads_back_bit_exact(tmp_path: Path) -> None:
    samples = np.array([0, 1, -1, 32767, -32768, 1234], dtype=np.int16)
    write_wav(tmp_path / "deep" / "mono.wav", samples)
    assert np.array_equal(read_wav(tmp_path / "deep" / "mono.wav"), samples)
    info = soundfile.info(str(tmp_path / "deep" / "mono.wav"))
    assert (info.samplerate, info.channels, info.subtype) == (8000, 1, "PCM_16")


def test_two_columns_are_written_as_two_channels_and_read_as_their_mean(tmp_path: Path) -> None:
    stereo = np.stack([np.full(800, 1000, dtype=np.int16), np.full(800, 3000, dtype=np.int16)], axis=1)
    write_wav(tmp_path / "stereo.wav", stereo)
    assert soundfile.info(str(tmp_path / "stereo.wav")).channels == 2
    assert set(read_wav(tmp_path / "stereo.wav")) == {2000}


def test_another_rate_is_resampled_to_8khz(tmp_path: Path) -> None:
    t = np.arange(16000) / 16000
    soundfile.write(tmp_path / "wide.wav", 0.5 * np.sin(2 * np.pi * 1000 * t), 16000, subtype="FLOAT")
    samples = read_wav(tmp_path / "wide.wav")
    assert samples.dtype == np.int16 and abs(len(samples) - 8000) <= 1
    assert 16000 < np.abs(samples[800:-800]).max() <= 16500  # 1 kHz at half scale, away from the filter's edges


def test_mulaw_telephony_recordings_are_decoded(tmp_path: Path) -> None:
    tone = (8000 * np.sin(np.arange(800) / 3)).astype(np.int16)
    soundfile.write(tmp_path / "ulaw.wav", tone, 8000, subtype="ULAW")
    assert np.abs(read_wav(tmp_path / "ulaw.wav").astype(int) - tone).max() < 300


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "is a directory, not a WAV file"),
        (lambda p: p.write_bytes(b""), "the file is empty, not audio"),
        (lambda p: p.write_text("just words, no audio"), "not an audio file soundfile can read"),
    ],
)
def test_what_is_not_audio_is_refused_in_one_line_naming_the_file(
    tmp_path: Path, make: Callable[[Path], object], message: str
) -> None:
    path = tmp_path / "call.wav"
    make(path)
    with pytest.raises(AudioFileError, match=f"^{path}: {message}") as caught:
        read_wav(path)
    assert "\n" not in str(caught.value)


def test_a_rate_no_sound_card_has_is_refused(tmp_path: Path) -> None:
    soundfile.write(tmp_path / "slow.wav", np.zeros(100, dtype=np.int16), 2000)
    with pytest.raises(AudioFileError, match="sample rate 2000 Hz is outside 4000-192000 Hz"):
        read_wav(tmp_path / "slow.wav")


def test_int16_conversion_rounds_to_the_nearest_step_and_clips_instead_of_wrapping() -> None:
    got = to_int16(np.array([0.4, 0.6, -0.6, 32766.7, 40000.0, -40000.0, 1e12]))
    assert got.dtype == np.int16
    assert got.tolist() == [0, 1, -1, 32767, 32767, -32768, 32767]
