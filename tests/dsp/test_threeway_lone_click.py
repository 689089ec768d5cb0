"""A hookswitch's lone click into music on hold whose closing click is lost (in music as loud as the clicks, or
brighter where the click finder listens): decided `lone_music_s` after the click, when the music never lets up. Its
edges: the click's strength, music that lets up, static instead of music, a click out of sound played in the room,
a line that clicks, a hold button's click before a PBX's music, and a call's own ringing."""

from __future__ import annotations

import numpy as np
import pytest

from firmware.dsp.threeway import ThreeWayConfig, ThreeWayEvent, analyse
from firmware.dsp.threeway_config import FRAME_S
from firmware.dsp.threeway_flash import FlashIntoMusic
from firmware.dsp.tones import sines
from hal.audio import SAMPLE_RATE
from tests.dsp.test_threeway import decisions, line
from tests.dsp.test_threeway_music import ACCESS_DBM0, OPENING, music_bench_call, music_hold_samples

WAIT_S = ThreeWayConfig().lone_music_s


def lone_click_hold(opening_dbm0: float = -10.0, music_dbm0: float = -24.0, **built: object) -> np.ndarray:
    """A click at OPENING into a steady chord played over the far end's line (its access noise stays under the
    music, so only a click can make it a decision): the closing click is not there at all."""
    return music_hold_samples(
        clicks=(OPENING,),
        opening_dbm0=opening_dbm0,
        music_dbm0=music_dbm0,
        steady=True,
        noise_under_dbm0=ACCESS_DBM0,
        **built,  # type: ignore[arg-type]
    )


def decided(x: np.ndarray) -> list[ThreeWayEvent]:
    return [d for d in decisions(analyse(x)) if OPENING <= d.at <= OPENING + 3.0]


def test_a_lone_hookswitch_click_into_music_that_never_lets_up_is_decided_without_the_switch_heard() -> None:
    (d,) = decided(lone_click_hold())
    assert OPENING + WAIT_S - 0.02 <= d.at <= OPENING + WAIT_S + 0.04
    assert d.evidence == ["a hookswitch's click, then other sound, such as music on hold, for 1.9 s without a pause"]
    evidence = d.to_json("es")["evidence"]
    assert isinstance(evidence, list) and evidence[0].startswith("un chasquido del gancho")
    assert not d.switch_heard  # one click is no hookflash: a facility enforcing on the switch is not told to act


@pytest.mark.parametrize(("opening_dbm0", "decided_"), [(-18.0, True), (-20.0, False)])
def test_only_a_hookswitch_strong_click_is_enough_alone(opening_dbm0: float, decided_: bool) -> None:
    """Into music at -40 dBm0 these clicks stand 31.6 and 29.6 dB over the quiet before them
    (`into_high_rise_db`, 30 dB): a knock or a word's onset stands less."""
    assert bool(decided(lone_click_hold(opening_dbm0, music_dbm0=-40.0))) is decided_


@pytest.mark.parametrize(("dip_dbm0", "decided_"), [(-34.0, True), (-38.0, False)])
def test_music_that_lets_up_within_the_wait_is_not_enough(dip_dbm0: float, decided_: bool) -> None:
    """Talk falls back between words; music on hold does not. A dip of 0.2 s, 1 s after the click, 10 dB under the
    music's -24 dBm0 is music; 14 dB under it (`held_sound_spread_db`, 12 dB) is not."""
    x = lone_click_hold().astype(np.float64)
    a, b = (round((OPENING + t) * SAMPLE_RATE) for t in (1.0, 1.2))
    x[a:b] *= 10 ** ((dip_dbm0 + 24.0) / 20)
    assert bool(decided(np.round(x).astype(np.int16))) is decided_


def test_a_click_into_static_is_no_music_on_hold() -> None:
    """A cordless phone's pop into its static: loud and steady, but noise, standing over no floor of its own."""
    x = music_hold_samples(clicks=(OPENING,), music=False, noise_under_dbm0=-30.0, cut=False)
    assert decided(x) == []


@pytest.mark.parametrize(("before_dbm0", "decided_"), [(-38.0, True), (-34.0, False)])
def test_a_click_out_of_sound_played_in_the_room_is_no_hookswitch(before_dbm0: float, decided_: bool) -> None:
    """A knock into music playing in the far room comes out of sound, not out of quiet: the 100 ms before the click
    must lie under `click_quiet_ceiling_dbm0` (-36 dBm0). The rule alone, fed frames and the click as the detector
    feeds them."""
    music = FlashIntoMusic(ThreeWayConfig())
    found = []
    for k in range(round(14.0 / FRAME_S)):
        t = round(k * FRAME_S, 6)
        if t == OPENING:
            music.click(t, "into", 40.0)
        music.frame(t, before_dbm0 if t < OPENING else -24.0, False, [])
        found.append(music.check_lone(t, [], since=0.0))
    assert [d.at for d in found if d is not None] == (
        [pytest.approx(OPENING + WAIT_S, abs=FRAME_S)] if decided_ else []
    )


def test_a_click_among_others_is_no_hookswitch() -> None:
    """A line that clicked 5 s before (as strongly) may crackle: a lone click proves nothing there."""
    x = music_hold_samples(clicks=(OPENING - 5.0, OPENING), steady=True, noise_under_dbm0=ACCESS_DBM0)
    assert decided(x) == []


def test_a_hold_buttons_click_before_a_pbx_music_is_no_click_into_music() -> None:
    """A desk phone's hold button clicks in the room; the PBX connects its music a few hundred ms later, over the
    line. The click has quiet after it, so it is no click into sound."""
    x = music_hold_samples(
        clicks=(OPENING - 0.3,), music_at=OPENING, steady=True, noise_under_dbm0=ACCESS_DBM0, cut=False
    )
    assert decided(x) == []


@pytest.mark.parametrize("ring_dbm0", [-30.0, -16.0])
def test_a_recording_that_opens_with_its_own_ringing_is_no_click_into_music(ring_dbm0: float) -> None:
    """A recording of a whole call: three rings (440+480 Hz, 2 s on, 4 s off) over digital silence, then the far
    party answers and talks. Each ring starts as sharply as a hookswitch's click and plays on without a pause, as
    music does; the call's own ringback is no music on hold (decided at the second ring before this guard)."""
    cycle = np.zeros(round(6.0 * SAMPLE_RATE))
    cycle[: round(2.0 * SAMPLE_RATE)] = sines([440.0, 480.0], [ring_dbm0, ring_dbm0], 2.0)
    call = np.concatenate([cycle, cycle, cycle, line(40.0, talk=(2.0, 3.0)).astype(np.float64)])
    assert decisions(analyse(np.round(call).astype(np.int16))) == []


@pytest.mark.parametrize(("tone_s", "decided_"), [(0.4, True), (0.7, False)])
def test_a_tone_pair_in_the_music_refuses_it_only_once_it_plays_on(tone_s: float, decided_: bool) -> None:
    """Music holds dial tone's F4 and A4, or 440 Hz beside a partial near 480 Hz, for a note (at most 0.24 s in the
    music bench's tuning set); a call's own tone plays for seconds. Ringback 10 dB over the music from 0.3 s after
    the click, faded in and out over 50 ms (no click of its own): named for about 0.36 s it is still music, for
    0.66 s it is no music on hold (`_PROGRESS_FRAMES`, 0.5 s)."""
    x = lone_click_hold().astype(np.float64)
    tone = sines([440.0, 480.0], [-14.0, -14.0], tone_s)
    fade = round(0.05 * SAMPLE_RATE)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, fade))
    tone[:fade] *= ramp
    tone[-fade:] *= ramp[::-1]
    k = round((OPENING + 0.3) * SAMPLE_RATE)
    x[k : k + len(tone)] += tone
    assert bool(decided(np.round(x).astype(np.int16))) is decided_


@pytest.mark.parametrize("seed", [80010, 80043])
def test_music_bench_tuning_calls_whose_closing_click_is_lost_are_decided(seed: int) -> None:
    """Clicked holds of the music bench's tuning set (other recordings' music) where the click finder heard only
    the opening click into the music: missed before this rule (decided no sooner than 5 s with it put off)."""
    flash, within_3_s = music_bench_call("landline_click", seed)
    (d,) = within_3_s(None)
    assert d.at <= flash + WAIT_S + 0.05 and "hookswitch's click" in d.evidence[0]
    assert within_3_s(ThreeWayConfig(lone_music_s=5.0)) == []


def test_at_the_highest_sensitivity_a_closing_click_still_decides_its_hookflash_first() -> None:
    """Sensitivity 1 halves the waits, but not a hookflash's gap: a closing click 1.2 s after the opening decides
    the whole hookflash (the switch heard) 0.25 s later, before the lone click's wait has run."""
    x = music_hold_samples(clicks=(OPENING, OPENING + 1.2), steady=True, noise_under_dbm0=ACCESS_DBM0)
    (d,) = [d for d in decisions(analyse(x, ThreeWayConfig(sensitivity=1.0))) if OPENING <= d.at <= OPENING + 3.0]
    assert d.switch_heard and d.at <= OPENING + 1.2 + 0.25 + 0.05
