"""The prompt catalog: every prompt id with its English and Spanish text, and its shipped 8 kHz audio.

The text is the source of truth (catalog.toml, read as every text is: firmware/prompts/texts.py); audio files
are rendered from it offline (`python -m firmware.prompts.render`) and shipped, so a device never needs a speech
synthesiser. They are stored as FLAC: bit-exact, and 68% of the WAVs' bytes (bench/prompt_codecs.py); a WAV of
the same name is read when no FLAC is there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import soundfile

from firmware.prompts import texts
from firmware.prompts.texts import LANGUAGES as LANGUAGES  # re-exported: the catalog's users import them here
from firmware.prompts.texts import Language as Language
from firmware.prompts.texts import TextError
from firmware.update.assets import prompt_dir_for
from hal.audio import SAMPLE_RATE
from hal.audio_file import AudioFileError, read_wav

CATALOG_PATH = texts.TEXT_DIR / texts.SURFACES["prompts"]
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
    try:
        return _catalog(texts.parse(data, source))
    except TextError as exc:
        raise PromptError(str(exc)) from None


def load(path: Path = CATALOG_PATH) -> Catalog:
    try:
        return _catalog(texts.read(path))
    except TextError as exc:
        raise PromptError(str(exc)) from None


def _catalog(entries: dict[str, dict[str, str]]) -> Catalog:
    return Catalog({prompt_id: Prompt(prompt_id, text) for prompt_id, text in entries.items()})


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
