"""Two ways the far end's own quiet misled the detector on calls built by another generator (sim/independent_calls):

- a far end that talked on and on has a learned floor of talk, so its first pause (down to its line's own noise, or
  to digital silence) read as a held line: a hold needs a drop below the quietest pause the far end has made;
- a hookflash to music on hold is heard as a click, the far end's line open (no room) until the switch acts on the
  hookswitch coming back up, then music whose first note hides the closing click: that is decided.
"""

from __future__ import annotations

import numpy as np
import pytest

from firmware.dsp.levels import rms_for_dbm0
from firmware.dsp.threeway import ThreeWayConfig, analyse
from hal.audio import SAMPLE_RATE
from sim.corpus import sources
from tests.dsp.test_threeway import decisions, line

OPENING = 10.0
ROOM_DBM0 = -50.0


def _add(x: np.ndarray, at: float, sound: np.ndarray) -> None:
    a = round(at * SAMPLE_RATE)
    x[a : a + len(sound)] += sound[: len(x) - a]


def _int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def flash_then(
    after: str = "music", gap_s: float = 0.5, click: bool = True, cut: bool = True, seconds: float = 30.0
) -> np.ndarray:
    """A call on `line`'s quiet line (room -50 dBm0): at 10 s a hookswitch click and the far end's path cut to the
    switch's idle noise (or, without `cut`, the room going on), then `gap_s` later music on hold at -24 dBm0 for 15
    s, or the far party talking on (`after="talk"`)."""
    x = line(seconds, hold=(OPENING, OPENING + 15.0) if cut else None, clicks=(OPENING,) if click else ()).astype(
        np.float64
    )
    start = OPENING + gap_s
    rng = np.random.default_rng(5)
    if after == "music":
        _add(x, start, sources.music(rng, 15.0 - gap_s, -24.0, pool="tune"))
    else:
        t = start
        while t < OPENING + 15.0:
            u = sources.utterance(rng, -16.0, pool="tune")
            _add(x, t, u)
            t += len(u) / SAMPLE_RATE + 0.15
    return _int16(x)


def test_a_flash_whose_open_line_ends_in_music_on_hold_is_decided_with_its_evidence() -> None:
    (d,) = decisions(analyse(flash_then()))
    music_at = OPENING + 0.5
    wait = ThreeWayConfig().flash_sound_s
    assert music_at + wait - 0.04 <= d.at <= music_at + wait + 0.04  # well inside 3 s of the flash
    assert d.evidence == ["hookflash: a click, the line cut for 0.50 s, then other sound, such as music on hold"]
    evidence = d.to_json("es")["evidence"]
    assert isinstance(evidence, list) and evidence[0].startswith("golpe de gancho: un chasquido, la línea cortada")


@pytest.mark.parametrize(("gap_s", "decided"), [(0.2, True), (1.25, True), (1.4, False)])
def test_the_line_must_be_open_no_longer_than_a_hookflash(gap_s: float, decided: bool) -> None:
    found = [d for d in decisions(analyse(flash_then(gap_s=gap_s))) if d.at < OPENING + 3.0]
    assert any("line cut" in e for d in found for e in d.evidence) is decided


def test_talk_after_a_click_and_a_moment_of_open_line_is_not_music() -> None:
    """The far party bumps the phone, the line drops out for half a second, and they talk on: talk falls between
    words, music on hold does not."""
    assert decisions(analyse(flash_then(after="talk")))[:1] == []


def test_music_after_a_click_over_a_line_that_stayed_open_to_the_room_is_not_a_flash() -> None:
    """A click, then music in the far room (a radio switched on): the room never went, so the line was never open."""
    assert decisions(analyse(flash_then(cut=False))) == []


def test_music_after_an_open_line_without_a_click_is_not_this_flash() -> None:
    """No click, no hookflash: a network hold to music is left to the held-line rules, as a PBX's would be."""
    found = decisions(analyse(flash_then(click=False)))
    assert not any("line cut" in e for d in found for e in d.evidence)


def talk_then_quiet(first_pause_at: float = 8.0, pause_s: float = 4.0, early_pause: bool = False) -> np.ndarray:
    """A far end that talks without a break (utterances 50 ms apart) from 0.3 s, on a quiet line (room -75 dBm0,
    access -70), stops for `pause_s` at `first_pause_at` (its line's own noise), then talks again; with
    `early_pause` it first pauses for 0.6 s at 2 s, so its own floor is known before."""
    seconds = first_pause_at + pause_s + 6.0
    x = line(seconds, room_db=-75.0, access_db=-70.0).astype(np.float64)
    rng = np.random.default_rng(7)
    spans = [(0.3, first_pause_at), (first_pause_at + pause_s, seconds - 0.5)]
    if early_pause:
        spans = [(0.3, 2.0), (2.6, first_pause_at), spans[1]]
    for a, b in spans:
        t = a
        while t < b:
            u = sources.utterance(rng, -16.0, pool="tune")[: round((b - t) * SAMPLE_RATE)]
            _add(x, t, u)
            t += len(u) / SAMPLE_RATE + 0.05
    return _int16(x)


def test_the_first_pause_of_a_far_end_that_talked_on_and_on_is_not_a_held_line() -> None:
    assert decisions(analyse(talk_then_quiet())) == []


def test_a_hold_after_the_far_end_has_shown_its_floor_is_still_decided() -> None:
    """The same call, where the far end paused once before and the 'pause' at 8 s is the path cut to the switch's
    idle noise, 20 dB under its line's own."""
    x = talk_then_quiet(early_pause=True).astype(np.float64)
    a, b = round(8.0 * SAMPLE_RATE), round(12.0 * SAMPLE_RATE)
    x[a:b] = np.random.default_rng(9).normal(0.0, rms_for_dbm0(-90.0), b - a)
    (d,) = decisions(analyse(_int16(x)))
    assert 8.0 < d.at <= 11.0
