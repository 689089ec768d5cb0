"""Every word the kiosk shows, in English and Spanish, sized for a 20x4 character LCD.

The words are in the one text catalog (firmware/prompts/kiosk-screens.toml). Spanish is written without accents
because the common HD44780 character ROM (A00) has none. Each entry is one line; tests render every screen with
the widest values and check that nothing is cut.
"""

from __future__ import annotations

from firmware.kiosk.messages import Language
from firmware.prompts.texts import shipped

WIDTH = 20
HEIGHT = 4

#: The kiosk's texts, id -> language -> line (firmware/prompts/kiosk-screens.toml, in the one text catalog).
TEXTS = shipped("kiosk").entries


def text(language: Language, key: str, /, **values: object) -> str:
    return shipped("kiosk").text(key, language, **values)
