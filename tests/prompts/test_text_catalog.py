"""The one text catalog: every surface's texts in both languages, with the same fields, and every id the code
names is there (the handset's prompt ids: tests/handset/test_prompts.py)."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from firmware.dsp.threeway_evidence import Fact
from firmware.kiosk.machine import HINTS
from firmware.prompts.texts import LANGUAGES, SURFACES, TextError, read, shipped
from tests.paths import ROOT

FIRMWARE = ROOT / "firmware"


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def named(directory: str, *patterns: str) -> set[str]:
    """The string literals the code in firmware/<directory> passes where a text id goes."""
    found: set[str] = set()
    for source in (FIRMWARE / directory).glob("*.py"):
        code = source.read_text(encoding="utf-8")
        for pattern in patterns:
            found |= set(re.findall(pattern, code))
    return found


@pytest.mark.parametrize("surface", sorted(SURFACES))
def test_every_id_has_english_and_spanish_with_the_same_fields(surface: str) -> None:
    texts = shipped(surface)
    assert texts.entries, f"{surface}: no texts"
    for text_id, by_language in texts.entries.items():
        assert set(by_language) == set(LANGUAGES), text_id
        assert all(by_language[lang].strip() for lang in LANGUAGES), text_id
        assert fields(by_language["en"]) == fields(by_language["es"]), f"{surface} [{text_id}]: fields differ"


def test_every_kiosk_text_id_the_machine_names_exists() -> None:
    ids = named(
        "kiosk",
        r'\btext\(\s*[\w."]+,\s*"([^"]+)"',
        r'\b(?:v\.t|_t)\(\s*"([^"]+)"',
        r'goodbye_reason = "([^"]+)"',
    )
    ids |= set(HINTS.values())
    assert len(ids) > 40, "the patterns no longer find the machine's text ids"
    assert ids <= set(shipped("kiosk").entries), sorted(ids - set(shipped("kiosk").entries))


def test_every_technician_message_the_machine_shows_exists() -> None:
    ids = named("tech", r'\bTell\(\s*"([^"]+)"', r'"(test_(?:passed|failed|simulated))"')
    assert {"menu", "enter_code", "test_simulated"} <= ids, "the patterns no longer find the machine's message ids"
    assert ids <= set(shipped("technician").entries), sorted(ids - set(shipped("technician").entries))


def test_every_evidence_fact_the_detector_states_exists_and_reads_in_both_languages() -> None:
    keys = named("dsp", r'\bfact\(\s*"([^"]+)"', r'\bfact\(\s*\n\s*"([^"]+)"')
    assert {"click", "hold_ended", "quieter"} <= keys, "the pattern no longer finds the detector's fact keys"
    evidence = shipped("threeway")
    assert keys <= set(evidence.entries), sorted(keys - set(evidence.entries))
    for key in keys:
        values: dict[str, float | str] = {name: 1.0 for name in fields(evidence.entries[key]["en"])}
        if "tone" in values:
            values["tone"] = "DTMF 5"
        for lang in LANGUAGES:
            assert Fact(key, tuple(values.items())).text(lang)


def test_an_id_without_spanish_is_refused_with_the_file_and_the_id(tmp_path: Path) -> None:
    path = tmp_path / "screens.toml"
    path.write_text('["menu.1"]\nen = "1 Balances"\n', encoding="utf-8")
    with pytest.raises(TextError, match=r"screens\.toml: \[menu\.1\] needs text for en, es \(missing: \['es'\]"):
        read(path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'["menu.1"\nen = "x"\n', "not valid TOML"),
        (b'["menu.1"]\nen = "\xff"\n', "not valid TOML"),
        (b'menu = "1 Balances"\n', r"\[menu\] must be a table with en and es text"),
        (b'[menu]\nen = "a"\nes = "b"\nfr = "c"\n', r"unknown keys: \['fr'\]"),
        (b'[menu]\nen = "a"\nes = "  "\n', r"missing: \['es'\]"),
    ],
)
def test_a_damaged_text_file_is_named_in_one_line(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "texts.toml"
    path.write_bytes(content)
    with pytest.raises(TextError, match=expected) as caught:
        read(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_an_unknown_id_is_named_not_a_bare_key_error() -> None:
    with pytest.raises(TextError, match=r"kiosk-screens\.toml: no text 'no.such' in 'es'"):
        shipped("kiosk").text("no.such", "es")
