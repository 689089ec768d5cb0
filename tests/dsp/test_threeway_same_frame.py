"""A decision made on the frame a held line ends is reported.

The flash rules (a hookflash then silence, into music, then music) and music from beyond the line decide on any
frame, also on one where a held line ends because the far end came back. Such a decision was dropped: the frame
returned only the ended hold's events, though the hold was then closed as decided. A clicked attempt into music
whose quiet stretch had made a short held line was lost that way."""

from __future__ import annotations

from unittest.mock import patch

import numpy as np

from firmware.dsp.threeway import ThreeWayDetector, ThreeWayEvent
from firmware.dsp.threeway_evidence import fact
from tests.dsp.test_threeway import line


def run(det: ThreeWayDetector, x: np.ndarray) -> list[ThreeWayEvent]:
    return [*det.feed(x, 0.0), *det.flush()]


def hold_ends(x: np.ndarray) -> list[float]:
    """The frames on which the detector closed a held line (a 0.6 s mute: too short for a decision)."""
    det = ThreeWayDetector()
    ends: list[float] = []
    close = det._end_hold

    def recorded(t: float) -> list[ThreeWayEvent]:
        ends.append(t)
        return close(t)

    with patch.object(det, "_end_hold", recorded):
        assert [e for e in run(det, x) if e.event == "three_way"] == []
    return ends


def test_a_flash_rules_decision_on_the_frame_a_held_line_ends_is_reported() -> None:
    x = line(hold=(10.0, 10.6))
    (end,) = hold_ends(x)
    assert 10.6 <= end <= 10.9
    decision = ThreeWayEvent.of("three_way", end, 0.85, [fact("hookflash", gap=0.5), fact("flash_into_music")])
    det = ThreeWayDetector()
    checked: list[float] = []

    def into_music(t: float, *_: object) -> ThreeWayEvent | None:
        checked.append(t)
        return decision if t == end else None

    with patch.object(det._into_music, "check", into_music):
        events = run(det, x)
    assert end in checked  # the rule was asked on that very frame
    assert [e for e in events if e.event == "three_way"] == [decision]
