"""Virtual hardware: a diode-less keypad matrix wired to gpiozero mock pins, for tests and benchmarks.

Held keys connect their row and column. A column pin reads low when a path of held keys links it to a row pin
that is driven low, exactly as on the copper, so three held corners of a rectangle also pull the fourth key's
column low (a ghost) and a floating row passes nothing by itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from gpiozero.pins.mock import MockFactory, MockPin

from hal.keypad import LAYOUTS, Contact


class MatrixWiring:
    def __init__(self, factory: MockFactory, rows: Sequence[int], cols: Sequence[int], layout: str) -> None:
        self.layout = LAYOUTS[layout]
        self.row_pins = [factory.pin(p) for p in rows]
        self.col_pins = [factory.pin(p, pin_class=MatrixColumnPin, wiring=self, index=i) for i, p in enumerate(cols)]
        self.held: set[Contact] = set()

    def contact(self, key: str) -> Contact:
        for r, row in enumerate(self.layout):
            if key in row:
                return r, row.index(key)
        raise KeyError(key)

    def hold(self, keys: Iterable[str]) -> None:
        """Set exactly which keys are held now."""
        self.held = {self.contact(k) for k in keys}

    def column_pulled_low(self, col: int) -> bool:
        seen_rows: set[int] = set()
        seen_cols = {col}
        frontier = [("c", col)]
        while frontier:
            side, n = frontier.pop()
            for r, c in self.held:
                if side == "c" and c == n and r not in seen_rows:
                    seen_rows.add(r)
                    frontier.append(("r", r))
                elif side == "r" and r == n and c not in seen_cols:
                    seen_cols.add(c)
                    frontier.append(("c", c))
        return any(self.row_pins[r].function == "output" and not self.row_pins[r].state for r in seen_rows)


class MatrixColumnPin(MockPin):
    """A column input: its pull-up level, unless the matrix connects it to a low row."""

    def __init__(self, factory: MockFactory, info: object, wiring: MatrixWiring, index: int) -> None:
        super().__init__(factory, info)
        self._wiring = wiring
        self._index = index

    def _get_state(self) -> bool:
        if self._function == "input" and self._wiring.column_pulled_low(self._index):
            return False
        return super()._get_state()
