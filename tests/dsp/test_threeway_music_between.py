"""A hookflash into music: the switch's music follows the opening click at once, so it plays between the two clicks
too. A click into a quiet room (a hold key released, the talk path given back) followed by talk a few hundred
milliseconds later is no flash into music. The edge (`into_sound_min_dbm0` between the clicks), and two tuning calls
of the independent generator that alarmed with the switch heard before this test."""

from __future__ import annotations

import pytest

from firmware.dsp.threeway import ThreeWayConfig, analyse
from firmware.dsp.threeway_config import FRAME_S
from firmware.dsp.threeway_flash import FlashIntoMusic
from sim.independent_calls import build_call, plan
from tests.dsp.test_threeway import decisions

OPENING = 10.0
GAP_S = 0.3
CLOSING = OPENING + GAP_S


def rule_alone(between_dbm0: float) -> list[float]:
    """When the flash-into-music rule decides, fed as the detector feeds it: quiet at -62 dBm0, a lone click into
    sound at the opening (40 dB over its quiet), the line at `between_dbm0` until a click over sound closes the
    flash 0.3 s later, then music at -30 dBm0. From the opening click on, the median is the music's either way."""
    music = FlashIntoMusic(ThreeWayConfig())
    found = []
    for k in range(round(14.0 / FRAME_S)):
        t = round(k * FRAME_S, 6)
        if abs(t - OPENING) < FRAME_S / 2:
            music.click(OPENING, "into", 40.0)
        if abs(t - CLOSING) < FRAME_S / 2:
            music.click(CLOSING, "over", 30.0)
        level = -62.0 if t < OPENING else between_dbm0 if t < CLOSING else -30.0
        music.frame(t, level, False, [])
        found.append(music.check(t, [], since=0.0))
    return [d.at for d in found if d is not None][:1]


def test_music_between_the_clicks_decides_the_flash_after_flash_confirm_s() -> None:
    assert rule_alone(-30.0) == [pytest.approx(CLOSING + ThreeWayConfig().flash_confirm_s, abs=FRAME_S)]


@pytest.mark.parametrize(("below_db", "decided"), [(-0.5, True), (0.5, False)])
def test_between_the_clicks_the_line_must_be_as_loud_as_into_sound_min_dbm0(below_db: float, decided: bool) -> None:
    """-48 dBm0 by default: quieter, the click came into a quiet room, and what followed the closing click is talk."""
    assert bool(rule_alone(ThreeWayConfig().into_sound_min_dbm0 - below_db)) is decided


@pytest.mark.slow
@pytest.mark.parametrize(
    ("seed", "index", "near_s"),
    [
        (424245, 274, 63.0),  # a hold key released into a quiet room (-61 dBm0 for 0.4 s), then talk
        (424245, 59, 239.96),  # a speakerphone's switched loss: a pulse into the room's noise, then talk
    ],
)
def test_tuning_calls_with_a_click_into_a_quiet_room_then_talk_raise_nothing(
    seed: int, index: int, near_s: float
) -> None:
    """Negatives of the independent generator's tuning seeds that alarmed as a hookflash into music."""
    call = build_call(seed, index, plan(seed, 300, 0.5)[index])
    assert not call.positive
    assert [d for d in decisions(analyse(call.samples)) if abs(d.at - near_s) <= 3.0] == []
