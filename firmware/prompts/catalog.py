"""The prompt catalog: every prompt id with its English and Spanish text, and its shipped 8 kHz audio.

The text is the source of truth (catalog.toml); audio files are rendered from it offline
(`python -m firmware.prompts.render`) and shipped, so a device never needs a speech synthesiser. They are stored
as FLAC: bit-exact, and 68% of the WAVs' bytes (bench/prompt_codecs.py); a WAV of the same name is read when no
FLAC is there.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile

from firmware.update.assets import prompt_dir_for
from hal.audio import SAMPLE_RATE
from hal.audio_file import AudioFileError, read_wav

Language = Literal["en", "es"]
LANGUAGES: tuple[Language, ...] = ("en", "es")
CATALOG_PATH = Path(__file__).with_name("catalog.toml")
AUDIO_DIR = Path(__file__).with_name("audio")


class PromptError(ValueError):
    """A catalog or prompt audio that cannot be used; str() names the file and the prompt id."""


@dataclass(frozen=True)
class Prompt:
    id: str
    text: dict[str, str]


@dataclass
class Catalog:
    prompts: dict[str, Prompt]
    audio_dir: Path = AUDIO_DIR
    _audio: dict[tuple[str, str], np.ndarray] = field(default_factory=dict, repr=False)

    def text(self, prompt_id: str, language: str) -> str:
        return self._get(prompt_id).text[language]

    def _get(self, prompt_id: str) -> Prompt:
        try:
            return self.prompts[prompt_id]
        except KeyError:
            raise PromptError(f"prompt {prompt_id!r} is not in the catalog") from None

    def audio_path(self, prompt_id: str, language: str) -> Path:
        self._get(prompt_id)
        flac = self.audio_dir / language / f"{prompt_id}.flac"
        return flac if flac.exists() else flac.with_suffix(".wav")

    def audio(self, prompt_id: str, language: str) -> np.ndarray:
        """The prompt's samples (8 kHz int16), read once and kept."""
        key = (prompt_id, language)
        if key not in self._audio:
            path = self.audio_path(prompt_id, language)
            try:
                self._audio[key] = read_flac(path) if path.suffix == ".flac" else read_wav(path)
            except AudioFileError as exc:
                raise PromptError(
                    f"prompt {prompt_id!r} ({language}): {exc}; run python -m firmware.prompts.render"
                ) from None
        return self._audio[key]

    def duration(self, prompt_id: str, language: str) -> float:
        return len(self.audio(prompt_id, language)) / SAMPLE_RATE


def read_flac(path: Path) -> np.ndarray:
    """A prompt stored as FLAC: 8 kHz mono 16-bit, as rendered; anything else is refused, not converted."""
    try:
        samples, rate = soundfile.read(path, dtype="int16", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError) as exc:
        raise AudioFileError(f"{path}: not a readable FLAC file ({exc})") from None
    if rate != SAMPLE_RATE or samples.shape[1] != 1:
        raise AudioFileError(f"{path}: {rate} Hz, {samples.shape[1]} channels; prompts are {SAMPLE_RATE} Hz mono")
    return samples[:, 0].copy()


def parse(data: dict[str, object], source: str) -> Catalog:
    prompts: dict[str, Prompt] = {}
    for prompt_id, entry in data.items():
        if not isinstance(entry, dict):
            raise PromptError(f"{source}: [{prompt_id}] must be a table with en and es text")
        missing = [lang for lang in LANGUAGES if not isinstance(entry.get(lang), str) or not entry[lang].strip()]
        extra = sorted(set(entry) - set(LANGUAGES))
        if missing or extra:
            raise PromptError(
                f"{source}: [{prompt_id}] needs text for {', '.join(LANGUAGES)}"
                f" (missing: {missing or 'none'}, unknown keys: {extra or 'none'})"
            )
        prompts[prompt_id] = Prompt(prompt_id, {lang: entry[lang] for lang in LANGUAGES})
    return Catalog(prompts)


def load(path: Path = CATALOG_PATH) -> Catalog:
    try:
        return parse(tomllib.loads(path.read_text(encoding="utf-8")), str(path))
    except FileNotFoundError:
        raise PromptError(f"{path}: no such prompt catalog") from None
    except tomllib.TOMLDecodeError as exc:
        raise PromptError(f"{path}: not valid TOML: {exc}") from None


@cache
def shipped() -> Catalog:
    """The catalog shipped with the firmware (loaded once per process). Its audio is the asset set the running
    slot's signed manifest names (firmware/update/assets.py) when there is one, else the package's own."""
    catalog = load()
    installed = prompt_dir_for(Path(__file__))
    if installed is not None:
        if not installed.is_dir():
            raise PromptError(
                f"{installed}: the prompts this firmware needs are not installed (install its asset bundle)"
            )
        catalog.audio_dir = installed
    return catalog
