"""The kiosk's screen as the HD44780 shows it: each character goes through the character ROM that RPLCD writes
to (`display.charmap`), so what has no glyph there (a backslash on A00, an accented letter) looks as it would."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from RPLCD.codecs import Codec, hd44780_a00, hd44780_a02, st7066_0b

_ROMS = {"A00": hd44780_a00, "A02": hd44780_a02, "ST0B": st7066_0b}


@cache
def _rom(charmap: str) -> tuple[Codec, dict[int, str]]:
    table = _ROMS[charmap]
    glyphs: dict[int, str] = {}
    for char, code in table.encoding_table.items():
        if code >= 0x20 and char != "\u00a0":
            glyphs.setdefault(code, char)
    return Codec(table), glyphs


def as_shown(lines: Sequence[str], charmap: str = "A00") -> list[str]:
    """Each line as the LCD's glyphs: one cell per byte the driver sends, blank where the ROM has nothing."""
    codec, glyphs = _rom(charmap)
    return ["".join(glyphs.get(code, " ") for code in codec.encode(line)) for line in lines]
