"""Matrix keypad scanning on gpiozero mock pins: debounce edges, bounce, ghost keys, both layouts, timestamps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockFactory

from hal.clock import VirtualClock
from hal.events import Event, KeyDown, KeyUp
from hal.gpio.keypad import GpioMatrixKeypad
from sim.keypad_matrix import MatrixWiring

ROWS = [5, 6, 13, 19]
COLS = {"4x3": [12, 16, 20], "4x4": [12, 16, 20, 21]}


class Rig:
    """A keypad on mock pins and a virtual clock; `hold` changes the held keys at a virtual time."""

    def __init__(self, layout: str = "4x3", debounce_ms: float = 20.0, scan_ms: float = 1.0) -> None:
        self.factory = MockFactory()
        self.wiring = MatrixWiring(self.factory, ROWS, COLS[layout], layout)
        self.clock = VirtualClock()
        self.keypad = GpioMatrixKeypad(
            self.clock, self.factory, ROWS, COLS[layout], layout, debounce_ms=debounce_ms, scan_ms=scan_ms
        )
        self.events: list[Event] = []
        self.keypad.start(self.events.append)

    def hold(self, at_ms: float, keys: str) -> None:
        self.clock.call_at(at_ms / 1000, lambda: self.wiring.hold(keys))

    def run(self, until_ms: float) -> list[tuple[str, str, float]]:
        self.clock.advance_to(until_ms / 1000)
        return [(type(e).__name__, e.key, round(e.at * 1000, 3)) for e in self.events]  # type: ignore[attr-defined]


@pytest.fixture
def rig() -> Iterator[Rig]:
    r = Rig()
    yield r
    r.keypad.close()


def test_press_and_release_are_reported_once_with_debounced_times(rig: Rig) -> None:
    rig.hold(10.5, "5")
    rig.hold(210.5, "")
    # First scan that sees the contact is at 11 ms, so the key is down at 11 + 20; up likewise at 211 + 20.
    assert rig.run(400) == [("KeyDown", "5", 31.0), ("KeyUp", "5", 231.0)]
    assert isinstance(rig.events[1], KeyUp) and rig.events[1].held_ms == 200


@pytest.mark.parametrize(
    ("debounce_ms", "closed_ms", "reported"),
    [(20, 19, False), (20, 21, True), (40, 39, False), (40, 41, True)],
)
def test_a_closure_counts_only_if_it_lasts_the_debounce(debounce_ms: float, closed_ms: float, reported: bool) -> None:
    rig = Rig(debounce_ms=debounce_ms)
    rig.hold(10.5, "8")
    rig.hold(10.5 + closed_ms, "")
    kinds = [kind for kind, _, _ in rig.run(300)]
    assert kinds == (["KeyDown", "KeyUp"] if reported else [])
    rig.keypad.close()


@pytest.mark.parametrize(("open_ms", "presses"), [(19, 1), (21, 2)])
def test_a_gap_inside_a_hold_splits_it_only_if_it_lasts_the_debounce(rig: Rig, open_ms: float, presses: int) -> None:
    rig.hold(10.5, "0")
    rig.hold(100.5, "")
    rig.hold(100.5 + open_ms, "0")
    rig.hold(300.5, "")
    events = rig.run(500)
    assert [k for k, _, _ in events].count("KeyDown") == presses
    assert [k for k, _, _ in events].count("KeyUp") == presses


def test_contact_chatter_on_press_and_release_gives_one_clean_press(rig: Rig) -> None:
    for t, keys in [
        (10.5, "9"),
        (12.5, ""),
        (13.5, "9"),
        (15.5, ""),
        (16.5, "9"),  # press chatter
        (200.5, ""),
        (202.5, "9"),
        (203.5, ""),
        (206.5, "9"),
        (207.5, ""),
    ]:  # release chatter
        rig.hold(t, keys)
    # Down 20 ms after the last closure that stayed (17 ms scan); up 20 ms after the last opening (208 ms scan).
    assert rig.run(400) == [("KeyDown", "9", 37.0), ("KeyUp", "9", 228.0)]


def test_three_held_corners_never_report_the_phantom_fourth_key(rig: Rig) -> None:
    rig.hold(10, "1")
    rig.hold(60, "12")
    rig.hold(110, "124")  # the matrix now also reads 5
    rig.hold(300, "14")  # 2 released: 1 and 4 are unambiguous again
    events = rig.run(500)
    downs = [key for kind, key, _ in events if kind == "KeyDown"]
    assert downs == ["1", "2", "4"]
    assert "5" not in {key for _, key, _ in events}
    assert ("KeyUp", "2", 320.0) in events  # the scan at 300 ms already sees it


def test_three_corners_pressed_at_once_report_nothing(rig: Rig) -> None:
    rig.hold(10, "124")
    rig.hold(200, "")
    assert rig.run(400) == []


def test_two_keys_off_a_rectangle_are_both_reported(rig: Rig) -> None:
    rig.hold(10, "1")
    rig.hold(50, "15")
    rig.hold(200, "")
    downs = [key for kind, key, _ in rig.run(400) if kind == "KeyDown"]
    assert downs == ["1", "5"]


@pytest.mark.parametrize("layout", ["4x3", "4x4"])
def test_every_key_of_the_layout_reads_as_its_own_label(layout: str) -> None:
    rig = Rig(layout)
    labels = "123456789*0#" if layout == "4x3" else "123A456B789C*0#D"
    for i, key in enumerate(labels):
        rig.hold(10 + 100 * i, key)
        rig.hold(60 + 100 * i, "")
    events = rig.run(100 * len(labels) + 100)
    assert [key for kind, key, _ in events if kind == "KeyDown"] == list(labels)
    assert all(isinstance(e, KeyDown | KeyUp) for e in rig.events)
    rig.keypad.close()


def test_ghost_rejection_on_a_4x4_keypad() -> None:
    rig = Rig("4x4")
    rig.hold(10, "3")
    rig.hold(60, "3A")
    rig.hold(110, "3A6")  # corners of 3, A, 6: B would be a phantom
    rig.hold(300, "")
    downs = [key for kind, key, _ in rig.run(500) if kind == "KeyDown"]
    assert downs == ["3", "A"]
    rig.keypad.close()


def test_only_the_selected_row_is_ever_driven_and_only_low(rig: Rig) -> None:
    driven: list[list[tuple[int, bool]]] = []
    original = rig.wiring.column_pulled_low

    def spy(col: int) -> bool:
        driven.append([(r, bool(p.state)) for r, p in enumerate(rig.wiring.row_pins) if p.function == "output"])
        return original(col)

    rig.wiring.column_pulled_low = spy  # type: ignore[method-assign]
    rig.hold(0, "147")  # three keys in one column: a driven-high row would fight the selected one
    rig.run(50)
    assert driven and all(len(rows) == 1 and rows[0][1] is False for rows in driven)
    assert all(p.function == "input" for p in rig.wiring.row_pins)


def test_close_stops_scanning_and_frees_the_pins(rig: Rig) -> None:
    rig.keypad.close()
    rig.hold(10, "5")
    assert rig.run(200) == []
    again = GpioMatrixKeypad(rig.clock, rig.factory, ROWS, COLS["4x3"])
    again.close()


def test_wrong_pin_count_names_the_layout() -> None:
    with pytest.raises(ValueError, match="a 4x4 keypad needs 4 row pins and 4 column pins, got 4 and 3"):
        GpioMatrixKeypad(VirtualClock(), MockFactory(), ROWS, COLS["4x3"], "4x4")
