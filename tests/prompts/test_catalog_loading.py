"""Loading the prompt catalog: a bad catalog file is refused in one line naming the file and the entry; an unknown
prompt id is refused by name; a FLAC prompt is preferred to a WAV of the same name; audio is read once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from firmware.prompts.catalog import Catalog, Prompt, PromptError, load, parse
from hal.audio_file import write_wav


def catalog(audio_dir: Path) -> Catalog:
    return Catalog({"hello": Prompt("hello", {"en": "Hello.", "es": "Hola."})}, audio_dir)


def test_a_catalog_file_loads_every_entry_with_both_languages(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text('[hello]\nen = "Hello."\nes = "Hola."\n\n[bye]\nen = "Goodbye."\nes = "Adiós."\n')
    loaded = load(path)
    assert sorted(loaded.prompts) == ["bye", "hello"]
    assert loaded.text("bye", "es") == "Adiós."


def test_a_missing_catalog_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PromptError, match=r"nowhere\.toml: no such text catalog"):
        load(tmp_path / "nowhere.toml")


def test_a_catalog_that_is_not_toml_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text("[hello\nen = 'Hello.'\n")
    with pytest.raises(PromptError, match=r"catalog\.toml: not valid TOML"):
        load(path)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("plain words", r"\[hello\] must be a table with en and es text"),
        ({"en": "Hello.", "es": "   "}, r"\[hello\] needs text for en, es \(missing: \['es'\]"),
        ({"en": "Hello.", "es": "Hola.", "fr": "Bonjour."}, r"unknown keys: \['fr'\]"),
        ({"en": 7, "es": "Hola."}, r"missing: \['en'\]"),
    ],
)
def test_a_malformed_entry_is_refused_by_name(entry: object, message: str) -> None:
    with pytest.raises(PromptError, match=message):
        parse({"hello": entry}, "catalog.toml")


def test_an_unknown_prompt_id_is_refused_by_name_for_text_and_audio(tmp_path: Path) -> None:
    with pytest.raises(PromptError, match="prompt 'nope' is not in the catalog"):
        catalog(tmp_path).text("nope", "en")
    with pytest.raises(PromptError, match="prompt 'nope' is not in the catalog"):
        catalog(tmp_path).audio_path("nope", "en")


def test_a_flac_prompt_is_preferred_to_a_wav_of_the_same_name(tmp_path: Path) -> None:
    import soundfile

    (tmp_path / "en").mkdir()
    write_wav(tmp_path / "en" / "hello.wav", np.full(800, 5, dtype=np.int16))
    soundfile.write(tmp_path / "en" / "hello.flac", np.full(800, 9, dtype=np.int16), 8000, format="FLAC")
    assert catalog(tmp_path).audio_path("hello", "en").suffix == ".flac"
    assert set(catalog(tmp_path).audio("hello", "en")) == {9}


def test_prompt_audio_is_read_once_and_kept(tmp_path: Path) -> None:
    write_wav(tmp_path / "en" / "hello.wav", np.arange(800, dtype=np.int16))
    prompts = catalog(tmp_path)
    first = prompts.audio("hello", "en")
    (tmp_path / "en" / "hello.wav").unlink()
    assert prompts.audio("hello", "en") is first
    assert prompts.duration("hello", "en") == pytest.approx(0.1)


def test_a_prompt_file_that_is_not_audio_names_the_prompt_and_the_fix(tmp_path: Path) -> None:
    (tmp_path / "es").mkdir()
    (tmp_path / "es" / "hello.wav").write_text("not audio")
    with pytest.raises(PromptError, match=r"prompt 'hello' \(es\): .*hello\.wav.*python -m firmware\.prompts\.render"):
        catalog(tmp_path).audio("hello", "es")
