"""The prompt catalog: both languages for every prompt, audio for every text, numbers spoken by concatenation."""

from __future__ import annotations

import re

import pytest

from firmware.prompts import speech
from firmware.prompts.catalog import AUDIO_DIR, LANGUAGES, PromptError, parse, shipped
from firmware.prompts.render import MANIFEST
from hal.audio import SAMPLE_RATE
from tests.paths import ROOT

CODE = ROOT / "firmware" / "handset"


def test_every_prompt_has_english_and_spanish_audio_rendered_from_its_current_text():
    catalog = shipped()
    import json

    manifest = json.loads((AUDIO_DIR / MANIFEST).read_text())
    for prompt in catalog.prompts.values():
        for language in LANGUAGES:
            assert manifest[f"{language}/{prompt.id}"] == prompt.text[language], "run python -m firmware.prompts.render"
            assert catalog.duration(prompt.id, language) > 0.1


def test_english_and_spanish_texts_differ_where_words_are_spoken():
    catalog = shipped()
    same = [p.id for p in catalog.prompts.values() if p.text["en"] == p.text["es"]]
    assert same == []


def test_every_prompt_id_the_flow_names_is_in_the_catalog():
    catalog = shipped()
    named = set()
    for source in CODE.glob("*.py"):
        named |= set(re.findall(r'"((?:cp_|refuse\.|warn\.|end\.)[a-z_.]+|[a-z]+_[a-z_]+)"', source.read_text()))
    spoken = {n for n in named if n in catalog.prompts or n.startswith(("cp_", "refuse.", "warn.", "end."))}
    assert spoken and all(n in catalog.prompts for n in spoken), sorted(spoken - set(catalog.prompts))


@pytest.mark.parametrize(
    ("n", "en", "es"),
    [
        (0, ["n_0"], ["n_0"]),
        (21, ["n_21"], ["n_21"]),
        (31, ["n_30", "n_1"], ["n_30", "w_and", "n_1"]),
        (100, ["n_100"], ["n_100"]),
        (115, ["h_1", "n_15"], ["h_1", "n_15"]),
        (999, ["h_9", "n_90", "n_9"], ["h_9", "n_90", "w_and", "n_9"]),
    ],
)
def test_numbers_are_built_per_language(n, en, es):
    assert speech.number(n, "en") == en and speech.number(n, "es") == es


def test_numbers_outside_the_spoken_range_are_refused():
    with pytest.raises(ValueError, match="0..999"):
        speech.number(1000, "en")
    with pytest.raises(ValueError):
        speech.number(-1, "es")


def test_money_and_durations_use_the_singular_and_the_spanish_apocope():
    assert speech.money(101, "en") == ["n_1", "w_dollar", "w_and", "n_1", "w_cent"]
    assert speech.money(101, "es") == ["n_1_unit", "w_dollar", "w_and", "n_1_unit", "w_cent"]
    assert speech.money(2100, "es") == ["n_21_unit", "w_dollars"]
    assert speech.money(8, "es") == ["n_8", "w_cents"]
    assert speech.money(0, "en") == ["n_0", "w_cents"]
    assert speech.duration(61, "es") == ["n_1_unit", "w_minute", "w_and", "n_1_unit", "w_second"]
    assert speech.duration(120, "en") == ["n_2", "w_minutes"]


def test_every_word_a_number_can_need_is_in_the_catalog():
    catalog = shipped()
    for n in range(1000):
        for language in LANGUAGES:
            assert all(word in catalog.prompts for word in speech.number(n, language, before_noun=n % 2 == 0))


def test_a_catalog_entry_without_spanish_is_refused_by_name():
    with pytest.raises(PromptError, match=r"\[greeting\] needs text for en, es \(missing: \['es'\]"):
        parse({"greeting": {"en": "Hello"}}, "catalog.toml")


def test_a_missing_audio_file_names_the_prompt_and_the_fix(tmp_path):
    catalog = parse({"greeting": {"en": "Hello", "es": "Hola"}}, "catalog.toml")
    catalog.audio_dir = tmp_path
    with pytest.raises(PromptError, match="'greeting' \\(en\\).*python -m firmware.prompts.render"):
        catalog.audio("greeting", "en")


def test_prompt_audio_is_8khz_speech_not_silence():
    from firmware.dsp.levels import dbm0

    samples = shipped().audio("welcome", "es")
    assert len(samples) / SAMPLE_RATE > 1.0 and dbm0(samples) > -30
