"""Prompts are stored as FLAC (bit-exact, smaller than WAV); a WAV of the same name is still read; bad files
are refused by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from firmware.prompts.catalog import AUDIO_DIR, Catalog, Prompt, PromptError
from hal.audio_file import write_wav


def catalog(audio_dir: Path) -> Catalog:
    return Catalog({"hello": Prompt("hello", {"en": "Hello.", "es": "Hola."})}, audio_dir)


def test_the_shipped_prompts_are_flac_and_none_is_wav() -> None:
    assert len(list(AUDIO_DIR.glob("*/*.flac"))) > 300
    assert not list(AUDIO_DIR.glob("*/*.wav"))


def test_a_flac_prompt_reads_back_bit_exact(tmp_path: Path) -> None:
    samples = (np.sin(np.arange(8000) / 5) * 8000).astype(np.int16)
    (tmp_path / "en").mkdir()
    soundfile.write(tmp_path / "en" / "hello.flac", samples, 8000, format="FLAC", subtype="PCM_16")
    assert np.array_equal(catalog(tmp_path).audio("hello", "en"), samples)


def test_a_prompt_left_as_wav_is_still_found(tmp_path: Path) -> None:
    samples = np.arange(800, dtype=np.int16)
    write_wav(tmp_path / "es" / "hello.wav", samples)
    assert catalog(tmp_path).audio_path("hello", "es").suffix == ".wav"
    assert np.array_equal(catalog(tmp_path).audio("hello", "es"), samples)


@pytest.mark.parametrize(("rate", "channels", "message"), [(16000, 1, "16000 Hz"), (8000, 2, "2 channels")])
def test_a_flac_prompt_of_another_rate_or_layout_is_refused_by_name(
    tmp_path: Path, rate: int, channels: int, message: str
) -> None:
    (tmp_path / "en").mkdir()
    soundfile.write(tmp_path / "en" / "hello.flac", np.zeros((800, channels), dtype=np.int16), rate, format="FLAC")
    with pytest.raises(PromptError, match=f"hello.*{message}"):
        catalog(tmp_path).audio("hello", "en")


def test_a_damaged_flac_prompt_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "hello.flac").write_bytes(b"fLaC" + bytes(100))
    with pytest.raises(PromptError, match="hello.*not a readable FLAC"):
        catalog(tmp_path).audio("hello", "en")
