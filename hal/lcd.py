"""A character LCD (HD44780, usually 20x4) behind an I2C backpack, driven through RPLCD.

Only rows that changed are rewritten: an HD44780 on I2C takes a few milliseconds per row, and rewriting the
whole screen on every key press makes it flicker.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from hal.display import fit


class DisplayError(OSError):
    """The LCD could not be reached; the message names the bus and address."""


class LcdDisplay:
    def __init__(
        self,
        width: int = 20,
        height: int = 4,
        port: int = 1,
        address: int = 0x27,
        expander: str = "PCF8574",
        charmap: str = "A00",
    ) -> None:
        from RPLCD.i2c import CharLCD

        self.width = width
        self.height = height
        self._where = f"LCD on I2C bus {port} at address {address:#04x}"
        try:
            self._lcd: Any = CharLCD(
                expander, address, port=port, cols=width, rows=height, charmap=charmap, auto_linebreaks=False
            )
            self._lcd.clear()
        except (OSError, ValueError, NotImplementedError) as exc:
            raise DisplayError(f"{self._where}: {exc}") from exc
        self._rows = [" " * width] * height

    def show(self, lines: Sequence[str]) -> None:
        fitted = fit(lines, self.width, self.height)
        try:
            for row, (old, new) in enumerate(zip(self._rows, fitted, strict=True)):
                if old != new:
                    self._lcd.cursor_pos = (row, 0)
                    self._lcd.write_string(new)
                    self._rows[row] = new
        except OSError as exc:
            raise DisplayError(f"{self._where}: {exc}") from exc

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._lcd.close(clear=True)
