"""Matrix keypads: debounced scanning with ghost-key rejection.

A key is reported down (or up) once its contact has read the same for `debounce_ms`. A diode-less matrix
shows a phantom fourth key when three corners of a rectangle are held, so any scan that contains a full
rectangle is ambiguous and is ignored until the contacts change: no phantom digit ever reaches the call flow.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations
from typing import Protocol

from hal.clock import Clock
from hal.driver import DeadlineDriver, EventSink
from hal.events import Event, KeyDown, KeyUp

LAYOUTS: dict[str, tuple[str, ...]] = {
    "4x3": ("123", "456", "789", "*0#"),
    "4x4": ("123A", "456B", "789C", "*0#D"),
}

Contact = tuple[int, int]


def has_ghost_rectangle(closed: Iterable[Contact]) -> bool:
    """True if the closed contacts include all four corners of some rectangle (a possible phantom key)."""
    by_row: dict[int, set[int]] = {}
    for row, col in closed:
        by_row.setdefault(row, set()).add(col)
    rows = [cols for cols in by_row.values() if len(cols) >= 2]
    return any(len(a & b) >= 2 for a, b in combinations(rows, 2))


@dataclass
class _KeyState:
    reported: bool = False
    raw: bool = False
    raw_since: float = 0.0
    down_at: float = 0.0


class KeyScanner:
    """Pure: matrix scans in, KeyDown/KeyUp out."""

    def __init__(self, layout: str = "4x3", debounce_ms: float = 20.0) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"keypad layout {layout!r} is not one of {sorted(LAYOUTS)}")
        if debounce_ms < 0:
            raise ValueError(f"keypad debounce_ms must not be negative, got {debounce_ms}")
        self.rows = LAYOUTS[layout]
        self.debounce = debounce_ms / 1000.0
        self._keys = {(r, c): _KeyState() for r, row in enumerate(self.rows) for c in range(len(row))}

    def key_at(self, contact: Contact) -> str:
        row, col = contact
        return self.rows[row][col]

    def contact_of(self, key: str) -> Contact:
        for r, row in enumerate(self.rows):
            if key in row:
                return r, row.index(key)
        raise ValueError(f"key {key!r} is not on this keypad ({' '.join(self.rows)})")

    def scan(self, at: float, closed: Iterable[Contact]) -> list[Event]:
        closed = set(closed)
        events = self.poll(at)
        if has_ghost_rectangle(closed):
            return events
        for contact, state in self._keys.items():
            raw = contact in closed
            if raw != state.raw:
                state.raw = raw
                state.raw_since = at
        return events + self.poll(at)

    def next_deadline(self) -> float | None:
        pending = [s.raw_since + self.debounce for s in self._keys.values() if s.raw != s.reported]
        return min(pending) if pending else None

    def poll(self, at: float) -> list[Event]:
        events: list[Event] = []
        due = sorted(
            (s.raw_since + self.debounce, contact)
            for contact, s in self._keys.items()
            if s.raw != s.reported and at >= s.raw_since + self.debounce - 5e-7  # to the microsecond
        )
        for when, contact in due:
            state = self._keys[contact]
            state.reported = state.raw
            key = self.key_at(contact)
            if state.reported:
                state.down_at = when
                events.append(KeyDown(when, key))
            else:
                events.append(KeyUp(when, key, round((when - state.down_at) * 1000)))
        return events


class Keypad(Protocol):
    """Reports KeyDown and KeyUp events to the sink given at start."""

    def start(self, sink: EventSink) -> None: ...

    def close(self) -> None: ...


class ScannedKeypad:
    """Shared by every backend: contact states from wherever they come go through one scanner."""

    def __init__(self, clock: Clock, layout: str = "4x3", debounce_ms: float = 20.0) -> None:
        self._clock = clock
        self.scanner = KeyScanner(layout, debounce_ms)
        self._driver: DeadlineDriver | None = None

    def start(self, sink: EventSink) -> None:
        self._driver = DeadlineDriver(self._clock, self.scanner, sink)

    def contacts(self, closed: Iterable[Contact]) -> None:
        if self._driver is None:
            raise RuntimeError("keypad used before start()")
        closed = frozenset(closed)
        self._driver.feed(lambda at: self.scanner.scan(at, closed))

    def close(self) -> None:
        if self._driver is not None:
            self._driver.close()


class SimKeypad(ScannedKeypad):
    """A keypad pressed by the simulator. Event-driven rather than polled, so virtual time stays cheap."""

    def __init__(self, clock: Clock, layout: str = "4x3", debounce_ms: float = 20.0) -> None:
        super().__init__(clock, layout, debounce_ms)
        self._held: set[Contact] = set()

    def press(self, key: str) -> None:
        self._held.add(self.scanner.contact_of(key))
        self.contacts(self._held)

    def release(self, key: str) -> None:
        self._held.discard(self.scanner.contact_of(key))
        self.contacts(self._held)
