"""A matrix keypad on GPIO: one row pulled low at a time, columns read with pull-ups.

Rows not being scanned float (pins set as inputs) instead of being driven high: with two keys held in one
column, a driven-high row and the selected low row would be shorted through the keys. The scan runs on the
clock every `scan_ms`, so on a virtual clock it is as deterministic as the simulator. Debounce and ghost
rejection are the shared KeyScanner's, so the result is the same as on the simulator.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from gpiozero import DigitalInputDevice, Factory

from hal.clock import Clock, TimerHandle
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
        if scan_ms <= 0:
            raise ValueError(f"keypad scan_ms must be positive, got {scan_ms}")
        factory.reserve_pins(self, *(factory.pin(p).info.name for p in rows))
        self._factory = factory
        self._rows = [factory.pin(p) for p in rows]
        for row in self._rows:
            row.function = "input"
            row.pull = "floating"
        self._cols = [DigitalInputDevice(p, pull_up=True, pin_factory=factory) for p in cols]
        self._scan_s = scan_ms / 1000.0
        self._lock = threading.Lock()
        self._origin = 0.0
        self._scans: int | None = None  # scans done since start; None once closed
        self._timer: TimerHandle | None = None

    def read_matrix(self) -> set[Contact]:
        """One pass over the rows; a closed contact pulls its column to the selected (low) row."""
        closed: set[Contact] = set()
        for r, row in enumerate(self._rows):
            row.function = "output"
            row.state = 0
            closed.update((r, c) for c, col in enumerate(self._cols) if col.is_active)
            row.function = "input"
        return closed

    def start(self, sink: EventSink) -> None:
        super().start(sink)
        with self._lock:
            self._origin, self._scans = self._clock.now(), 0
            self._arm()

    def _arm(self) -> None:
        assert self._scans is not None
        # Scan times are origin + n * scan_s (no drift from summing floats); after a stall the missed scans are
        # skipped rather than run back to back.
        now = self._clock.now()
        self._scans = max(self._scans + 1, int((now - self._origin) / self._scan_s) + 1)
        self._timer = self._clock.call_at(self._origin + self._scans * self._scan_s, self._scan)

    def _scan(self) -> None:
        with self._lock:
            if self._scans is None:
                return  # closed while this scan was waiting
            self.contacts(self.read_matrix())
            self._arm()

    def close(self) -> None:
        with self._lock:
            self._scans = None
            if self._timer is not None:
                self._timer.cancel()
        super().close()
        for col in self._cols:
            col.close()
        for row in self._rows:
            row.close()
        self._factory.release_all(self)
