"""A few lines of text for the kiosk's screen."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Display(Protocol):
    width: int
    height: int

    def show(self, lines: Sequence[str]) -> None: ...

    def close(self) -> None: ...


def fit(lines: Sequence[str], width: int, height: int) -> list[str]:
    """Pad or cut to exactly the screen's size, so every backend shows the same thing."""
    if len(lines) > height:
        raise ValueError(f"{len(lines)} lines do not fit a {height}-line display")
    return [line[:width].ljust(width) for line in lines] + [" " * width] * (height - len(lines))


class SimDisplay:
    """Remembers every screen shown, for the simulator's `screen` events and for tests."""

    def __init__(self, width: int = 20, height: int = 4) -> None:
        self.width = width
        self.height = height
        self.screens: list[list[str]] = []

    def show(self, lines: Sequence[str]) -> None:
        self.screens.append(fit(lines, self.width, self.height))

    @property
    def current(self) -> list[str]:
        return self.screens[-1] if self.screens else fit([], self.width, self.height)

    def close(self) -> None:
        pass
