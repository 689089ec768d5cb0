"""The one text catalog: every word the devices speak or show, by id, in English and Spanish.

One TOML file per surface, all in this directory and all in one shape (`[id]` with `en` and `es`):
catalog.toml (spoken prompts, rendered to audio: catalog.py), kiosk-screens.toml (the kiosk's LCD),
technician-messages.toml (technician mode) and threeway-evidence.toml (what an investigator reads about a
three-way call). Each surface keeps its own module-level view (`screens.TEXTS`, `messages.MESSAGES`,
`threeway.EVIDENCE_TEXT`); the words live only here. tests/prompts/test_text_catalog.py checks that every id has
both languages and that every id the code names exists.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

Language = Literal["en", "es"]
LANGUAGES: tuple[Language, ...] = ("en", "es")
TEXT_DIR = Path(__file__).parent
#: Every surface's file, by the name `shipped` takes.
SURFACES = {
    "prompts": "catalog.toml",
    "kiosk": "kiosk-screens.toml",
    "technician": "technician-messages.toml",
    "threeway": "threeway-evidence.toml",
}


class TextError(ValueError):
    """A text file that cannot be used, or an id it does not have; str() names the file and the id."""


@dataclass(frozen=True)
class Texts:
    """One surface's texts: id -> language -> template (str.format fields such as {amount})."""

    source: str
    entries: dict[str, dict[str, str]]

    def __contains__(self, text_id: object) -> bool:
        return text_id in self.entries

    def text(self, text_id: str, language: str, /, **values: object) -> str:
        try:
            template = self.entries[text_id][language]
        except KeyError:
            raise TextError(f"{self.source}: no text {text_id!r} in {language!r}") from None
        return template.format(**values)


def parse(data: dict[str, object], source: str) -> dict[str, dict[str, str]]:
    """Each id's text in every language, or TextError naming the id and what is missing."""
    entries: dict[str, dict[str, str]] = {}
    for text_id, entry in data.items():
        if not isinstance(entry, dict):
            raise TextError(f"{source}: [{text_id}] must be a table with en and es text")
        missing = [lang for lang in LANGUAGES if not isinstance(entry.get(lang), str) or not entry[lang].strip()]
        extra = sorted(set(entry) - set(LANGUAGES))
        if missing or extra:
            raise TextError(
                f"{source}: [{text_id}] needs text for {', '.join(LANGUAGES)}"
                f" (missing: {missing or 'none'}, unknown keys: {extra or 'none'})"
            )
        entries[text_id] = {lang: entry[lang] for lang in LANGUAGES}
    return entries


def read(path: Path) -> dict[str, dict[str, str]]:
    try:
        return parse(tomllib.loads(path.read_text(encoding="utf-8")), str(path))
    except FileNotFoundError:
        raise TextError(f"{path}: no such text catalog") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TextError(f"{path}: not valid TOML: {exc}") from None


@cache
def shipped(surface: str) -> Texts:
    """A surface's texts as shipped with the firmware (read once per process)."""
    path = TEXT_DIR / SURFACES[surface]
    return Texts(str(path), read(path))
