"""Music on hold that starts quietly (a fade-in, a quiet passage): the hookswitch's opening click then has quiet on
both sides, so it is no click into sound. The flash is still heard when its closing click is a click into the
music come up; the edges: a weak opening, and a closing click over sound already playing."""

from __future__ import annotations

import numpy as np
import pytest

from firmware.dsp.threeway import ThreeWayConfig, analyse
from firmware.dsp.tones import sines
from hal.audio import SAMPLE_RATE
from tests.dsp.test_threeway import decisions, line
from tests.dsp.test_threeway_flash import SAME_FLOOR_DBM0

OPENING = 12.0
CLOSING = 12.6
TALK_DBM0 = -20.0  # the far party's talk before the flash: the call's talk level
CHORD_HZ = (523.0, 659.0, 784.0)


def chord(seconds: float, dbm0: float) -> np.ndarray:
    return sines(list(CHORD_HZ), [dbm0 - 10 * np.log10(len(CHORD_HZ))] * len(CHORD_HZ), seconds)


def add(x: np.ndarray, at: float, y: np.ndarray) -> None:
    a = round(at * SAMPLE_RATE)
    x[a : a + len(y)] += y[: max(0, len(x) - a)]


def quiet_start_hold(
    opening_dbm0: float = -10.0, music_dbm0: float = -22.0, music_after_s: float = 0.0, quiet_dbm0: float = -46.0
) -> np.ndarray:
    """A far party talking at -20 dBm0 until 1 s before the flash, on a line whose held floor is as loud as its
    own; from the opening click a chord at `quiet_dbm0` (the music's quiet start), and from `music_after_s` after
    the closing click the music at `music_dbm0`."""
    clicks = ((OPENING, opening_dbm0), (CLOSING, -10.0))
    y = line(40.0, hold=(OPENING, 30.0), idle_db=SAME_FLOOR_DBM0, other_clicks=clicks).astype(np.float64)
    for start in np.arange(1.0, OPENING - 1.0, 1.5):  # talk in bursts: a pause between them
        add(y, float(start), sines([300.0, 1200.0], [TALK_DBM0 - 2, TALK_DBM0 - 6], 1.0))
    up = CLOSING + music_after_s
    add(y, OPENING + 0.005, chord(up - OPENING - 0.005, quiet_dbm0))
    add(y, up + 0.005, chord(30.0 - up, music_dbm0))
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def decided(x: np.ndarray) -> list[float]:
    return [round(d.at, 2) for d in decisions(analyse(x)) if OPENING <= d.at <= OPENING + 3.0]


def test_a_hookswitch_click_in_quiet_closed_by_a_click_into_the_music_is_a_flash_into_music() -> None:
    """HEAD before this rule decided nothing here: the opening click had quiet after it too, so it was no click
    into sound, and the music after the closing click is talk to the silent-flash rule."""
    (d,) = decisions(analyse(quiet_start_hold()))
    assert CLOSING < d.at <= CLOSING + ThreeWayConfig().flash_confirm_s + 0.05
    assert any("hookflash" in e for e in d.evidence)
    assert d.switch_heard


def test_only_a_hookswitch_strong_click_opens_such_a_flash() -> None:
    """An opening at -30 dBm0 stands under `into_high_rise_db` (30 dB) over the quiet: a faint click in a pause
    (a knock, a pop) followed by a click into sound makes no hookflash. The click into the music, strong and lone,
    is still one on its own: decided `lone_music_s` after it, without the switch heard."""
    found = [d for d in decisions(analyse(quiet_start_hold(opening_dbm0=-30.0))) if OPENING <= d.at <= OPENING + 3.0]
    (d,) = found
    wait = ThreeWayConfig().lone_music_s
    assert CLOSING + wait <= d.at <= CLOSING + wait + 0.04
    assert not d.switch_heard


@pytest.mark.parametrize("music_after_s", [-0.2, -0.3])
def test_a_closing_click_over_music_already_playing_closes_no_flash_opened_in_quiet(music_after_s: float) -> None:
    """Only a click *into* sound closes it: a knock in quiet followed by a knock over sound (a phone set down on
    a table, then picked up into talk) made a false alarm on a tuning call when any closing was taken. Here the
    sound after it is music that never lets up, so the two clicks are decided as a hookflash followed by music,
    only `over_pair_music_s` after the closing click; talk after them would let up."""
    (d,) = [d for d in decisions(analyse(quiet_start_hold(music_after_s=music_after_s))) if d.at >= OPENING]
    assert [f.key for f in d.facts] == ["hookflash", "music_after_flash"]
    assert d.at == pytest.approx(CLOSING + ThreeWayConfig().over_pair_music_s, abs=0.04)


def test_a_knock_in_quiet_then_a_knock_over_talk_is_no_flash() -> None:
    """The phone set down, then picked up into talk: talk falls back between its words, so no music follows."""
    y = quiet_start_hold(music_dbm0=-90.0, music_after_s=-0.2).astype(np.float64)
    for start in np.arange(CLOSING - 0.2, 30.0, 1.2):  # words of 0.8 s, pauses of 0.4 s
        add(y, float(start), sines([300.0, 1200.0], [TALK_DBM0 - 2, TALK_DBM0 - 6], 0.8))
    assert [d for d in decisions(analyse(np.round(y).astype(np.int16))) if d.at >= OPENING] == []
