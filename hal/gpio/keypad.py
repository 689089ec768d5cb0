"""A matrix keypad on GPIO: rows driven one at a time, columns read with pull-ups.

A scanning thread reads the whole matrix every `scan_ms`; debounce and ghost rejection are the shared
KeyScanner's, so the result is the same as on the simulator.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from gpiozero import DigitalInputDevice, DigitalOutputDevice, Factory

from hal.clock import Clock
from hal.driver import EventSink
from hal.keypad import LAYOUTS, Contact, ScannedKeypad


class GpioMatrixKeypad(ScannedKeypad):
    def __init__(
        self,
        clock: Clock,
        factory: Factory,
        rows: Sequence[int],
        cols: Sequence[int],
        layout: str = "4x3",
        debounce_ms: float = 20.0,
        scan_ms: float = 5.0,
    ) -> None:
        super().__init__(clock, layout, debounce_ms)
        shape = LAYOUTS[layout]
        if len(rows) != len(shape) or len(cols) != len(shape[0]):
            raise ValueError(
                f"a {layout} keypad needs {len(shape)} row pins and {len(shape[0])} column pins,"
                f" got {len(rows)} and {len(cols)}"
            )
        # Rows idle high and are pulled low to select; a pressed key pulls its column low.
        self._rows = [
            DigitalOutputDevice(p, active_high=False, initial_value=False, pin_factory=factory) for p in rows
        ]
        self._cols = [DigitalInputDevice(p, pull_up=True, pin_factory=factory) for p in cols]
        self._scan_s = scan_ms / 1000.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def read_matrix(self) -> set[Contact]:
        closed: set[Contact] = set()
        for r, row in enumerate(self._rows):
            row.on()
            closed.update((r, c) for c, col in enumerate(self._cols) if col.is_active)
            row.off()
        return closed

    def start(self, sink: EventSink) -> None:
        super().start(sink)
        self._thread = threading.Thread(target=self._scan_loop, name="keypad-scan", daemon=True)
        self._thread.start()

    def _scan_loop(self) -> None:
        while not self._stop.wait(self._scan_s):
            self.contacts(self.read_matrix())

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        super().close()
        for device in [*self._rows, *self._cols]:
            device.close()
