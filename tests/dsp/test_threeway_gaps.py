"""A stream with a gap: frames that never came (a far end that sent no RTP for a while, a simulator's silent far
end). The caller's times jump; a click must still be timed by the samples it was heard in, or no hookflash is
ever paired with the hold it opens."""

from __future__ import annotations

import numpy as np
import pytest

from firmware.dsp.threeway import ThreeWayDetector, ThreeWayEvent, analyse
from sim.corpus import build

FRAME = 160
SR = 8000


def streamed(x: np.ndarray, gap_at_s: float, gap_s: float) -> list[ThreeWayEvent]:
    """`x` fed in 20 ms frames, as a device does, with the times after `gap_at_s` moved on by `gap_s`."""
    det = ThreeWayDetector()
    events: list[ThreeWayEvent] = []
    for k in range(len(x) // FRAME):
        at = k * FRAME / SR
        events += det.feed(x[k * FRAME : (k + 1) * FRAME], at + (gap_s if at >= gap_at_s else 0.0))
    return events + det.flush()


@pytest.mark.parametrize("gap_s", [0.0, 0.5, 13.8])
def test_a_hookflash_after_a_gap_in_the_stream_is_still_heard(gap_s: float) -> None:
    x = build("landline_click", 1).samples
    (offline,) = [e for e in analyse(x) if e.event == "three_way"]
    assert any(e.startswith("hookflash") for e in offline.evidence)
    events = streamed(x, 5.0, gap_s)
    (online,) = [e for e in events if e.event == "three_way"]
    assert [f.key for f in online.facts] == [f.key for f in offline.facts]  # hookflash, held line
    assert online.at == pytest.approx(offline.at + gap_s, abs=0.05)
    clicks = [e.at - gap_s for e in events if e.event == "click"]
    assert clicks == pytest.approx([e.at for e in analyse(x) if e.event == "click"], abs=0.02)
