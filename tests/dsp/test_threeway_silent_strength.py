"""A lone pair of clicks and then a silent far end is a hookflash only when it sounds like one: the stronger of its
two clicks stands `silent_click_min_db` (30 dB) over the quiet, as a hookswitch's does (40-60 dB). A cordless
phone's pops and a hold button's clicks (16-26 dB) followed by a pause were decided with the switch heard, which a
facility's `enforce_on = "flash_or_tones"` acts on beyond a warning."""

from __future__ import annotations

import numpy as np
import pytest

from firmware.dsp.threeway import ThreeWayConfig, analyse
from sim.independent_calls.calls import build_call
from sim.independent_calls.variants import plan
from tests.dsp.test_threeway import decisions, line
from tests.dsp.test_threeway_music import OPENING
from tests.dsp.test_threeway_pair_music import decided

CLOSING = OPENING + 0.6


def pair_then_silence(first_dbm0: float, second_dbm0: float | None = None) -> np.ndarray:
    """A quiet line (room -66, access -72 dBm0), two clicks 0.6 s apart, then nothing from the far end."""
    clicks = ((OPENING, first_dbm0), (CLOSING, first_dbm0 if second_dbm0 is None else second_dbm0))
    return line(30.0, other_clicks=clicks, room_db=-66.0, access_db=-72.0)


def rises(x: np.ndarray) -> list[str]:
    return [e.evidence[0].split(" dB")[0] for e in analyse(x) if e.event == "click"]


def test_two_faint_pops_then_a_pause_are_no_three_way_call() -> None:
    x = pair_then_silence(-40.0)
    assert rises(x) == ["25", "24"]
    assert decided(x) == []
    # the same audio was decided as a hookflash with the switch heard before the rule asked for a hookswitch's click
    (d,) = decided(x, ThreeWayConfig(silent_click_min_db=20.0))
    assert d.switch_heard and d.evidence[1] == "far end silent for 1.5 s after the flash"


@pytest.mark.parametrize(
    ("clicks_dbm0", "heard", "is_decided"),
    [
        ((-36.0, None), ["29", "28"], False),
        ((-34.0, None), ["31", "30"], True),
        ((-40.0, -30.0), ["25", "34"], True),  # the stronger of the two counts: a faint opening, a hookswitch's close
        ((-30.0, -40.0), ["35", "24"], True),
    ],
)
def test_the_stronger_click_decides_at_a_hookswitchs_strength(
    clicks_dbm0: tuple[float, float | None], heard: list[str], is_decided: bool
) -> None:
    x = pair_then_silence(*clicks_dbm0)
    assert rises(x) == heard
    found = decided(x)
    assert len(found) == is_decided
    if found:
        assert abs(found[0].at - (CLOSING + ThreeWayConfig().flash_silence_s)) <= 0.06


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "index"), [(424243, 61), (424246, 81), (424246, 292)])
def test_independent_tuning_calls_with_pops_or_a_hold_button_give_no_decision(seed: int, index: int) -> None:
    """Calls of the independent generator's tuning seeds (a hold button on a crackling analog line; cordless static
    on two others) that were decided on faint pairs (19-26 dB) and a pause; with the old rule they still are."""
    call = build_call(seed, index, plan(seed, 300, 0.5)[index])
    assert not call.positive
    assert decisions(analyse(call.samples)) == []
    (d,) = decisions(analyse(call.samples, ThreeWayConfig(silent_click_min_db=15.0)))
    assert d.switch_heard and d.evidence[1] == "far end silent for 1.5 s after the flash"
