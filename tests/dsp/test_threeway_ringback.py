"""Ringback heard under music on hold: the far party's new call ringing beneath the held line's music, where the
tone pair carries too little of the window's power for the bridged-tone test. Its edges (how far the tones stand
over the frequencies beside them, how loud and how long they are), the call's own ringback before the answer, dial
tone and a lone 440 Hz under music, streaming, and tuning calls it decides and calls it must leave alone."""

from __future__ import annotations

import numpy as np
import pytest

from firmware.dsp.levels import rms_for_dbm0
from firmware.dsp.threeway import ThreeWayConfig, ThreeWayEvent, analyse
from firmware.dsp.tones import sines
from hal.audio import SAMPLE_RATE
from sim.corpus import build, sources
from sim.independent_calls import build_call, plan
from tests.dsp.test_threeway import decisions, line
from tests.dsp.test_threeway_masked import alike, streamed
from tests.dsp.test_threeway_music import PARTIALS_HZ

CUT = 10.0  # the held line's music starts
RINGS = CUT + 1.5  # the third party's ringback starts
RINGBACK = (440.0, 480.0)


def held_music(
    ring_dbm0: float | None = None,
    twist_db: float = 0.0,
    ring_s: float = 2.0,
    ring_after_s: float = RINGS - CUT,
    freqs: tuple[float, ...] = RINGBACK,
    recording: bool = True,
    noise_dbm0: float | None = None,
    opening_ring: bool = False,
) -> np.ndarray:
    """A quiet line (room -50, access -58 dBm0) whose far party talks at 2-5 s, then music on hold at -24 dBm0
    from CUT for 12 s played over the line (its noise stays under the music: a PBX's hold, no other evidence); a
    recording of the tuning pool, or a chord of four partials (500-2500 Hz, each -30 dBm0) with white noise at
    `noise_dbm0` under it. From `ring_after_s` into the music (RINGS by default), the tones `freqs` at `ring_dbm0`
    each (the first `twist_db` louder) for `ring_s`. With `opening_ring` three ringing cycles come first (2 s of
    the call's own ringback, 4 s of silence): the times move on 18 s."""
    x = line(25.0, talk=(2.0, 3.0)).astype(np.float64)
    a, b = round(CUT * SAMPLE_RATE), round((CUT + 12.0) * SAMPLE_RATE)
    if recording:
        x[a:b] += sources.music(np.random.default_rng(1), (b - a) / SAMPLE_RATE, -24.0, pool="tune")
    else:
        x[a:b] += sines(list(PARTIALS_HZ), [-30.0] * len(PARTIALS_HZ), (b - a) / SAMPLE_RATE)
    if noise_dbm0 is not None:
        x[a:b] += np.random.default_rng(3).normal(0.0, rms_for_dbm0(noise_dbm0), b - a)
    if ring_dbm0 is not None:
        tone = sines(list(freqs), [ring_dbm0 + twist_db] + [ring_dbm0] * (len(freqs) - 1), ring_s)
        k = round((CUT + ring_after_s) * SAMPLE_RATE)
        x[k : k + len(tone)] += tone
    if opening_ring:
        cycle = np.zeros(round(6.0 * SAMPLE_RATE))
        cycle[: round(2.0 * SAMPLE_RATE)] = sines(list(RINGBACK), [-30.0, -30.0], 2.0)
        x = np.concatenate([cycle, cycle, cycle, x])
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def ringing(events: list[ThreeWayEvent]) -> list[ThreeWayEvent]:
    return [d for d in decisions(events) if any(f.key == "ringback_under_sound" for f in d.facts)]


def test_ringback_under_music_on_hold_is_decided_with_its_evidence() -> None:
    """Each tone 6 dB under the music (-30 against -24 dBm0): the pair is about a quarter of the window's power."""
    (d,) = decisions(analyse(held_music(ring_dbm0=-30.0)))
    # Heard once six 0.25 s windows, 50 ms apart, have stood out: the first of them reaches into the ringback.
    need = ThreeWayConfig().ringback_under_s
    assert RINGS + need <= d.at <= RINGS + need + 0.25
    assert d.facts[0].key == "ringback_under_sound"
    assert d.evidence[0].startswith("ringback heard under the held line's sound")
    assert d.switch_heard
    evidence = d.to_json("es")["evidence"]
    assert isinstance(evidence, list) and str(evidence[0]).startswith("tono de llamada oído bajo el sonido")


def test_the_same_music_on_hold_without_ringback_is_not_decided() -> None:
    assert decisions(analyse(held_music())) == []


@pytest.mark.parametrize(("ring_dbm0", "decided"), [(-48.0, True), (-56.0, False)])
def test_the_tones_must_stand_ringback_under_db_over_their_neighbours(ring_dbm0: float, decided: bool) -> None:
    """White noise at -40 dBm0 under a chord: a tone at L stands about L + 40 + 28 dB over the median of the bins
    beside it; `ringback_under_db` is 15, so the edge falls near -53 dBm0."""
    found = ringing(analyse(held_music(ring_dbm0=ring_dbm0, recording=False, noise_dbm0=-40.0)))
    assert bool(found) is decided


@pytest.mark.parametrize(("ring_dbm0", "decided"), [(-57.0, True), (-63.0, False)])
def test_the_tones_must_be_as_loud_as_tone_min_dbm0(ring_dbm0: float, decided: bool) -> None:
    """Over a quiet line the tones stand far out at any level; `tone_min_dbm0` is -60."""
    assert bool(ringing(analyse(held_music(ring_dbm0=ring_dbm0, recording=False)))) is decided


@pytest.mark.parametrize(("twist_db", "decided"), [(8.0, True), (12.0, False)])
def test_the_tones_must_be_within_tone_twist_db_of_each_other(twist_db: float, decided: bool) -> None:
    """Ringback's two tones are sent alike; a loud A (440 Hz) beside a bell's faint partial near 480 Hz is not
    them. `tone_twist_db` is 10 dB; 480 Hz at -40 dBm0 over a quiet line stands far out either way."""
    found = ringing(analyse(held_music(ring_dbm0=-40.0, twist_db=twist_db, recording=False)))
    assert bool(found) is decided


@pytest.mark.parametrize(
    ("freqs", "decided"), [((440.8, 479.2), True), ((437.0, 481.0), False), ((440.0, 483.0), False)]
)
def test_each_tone_must_peak_within_a_hertz_and_a_half_of_its_own(freqs: tuple[float, ...], decided: bool) -> None:
    """A switch's ringback is 440 and 480 Hz; two games' music on hold held 437 and 481 Hz, and 436 and 480 Hz,
    which stand out of the bins 12-40 Hz beside 440 and 480 as ringback does (the music bench's tuning set)."""
    found = ringing(analyse(held_music(ring_dbm0=-40.0, freqs=freqs, recording=False)))
    assert bool(found) is decided


@pytest.mark.parametrize(("ring_after_s", "decided"), [(0.0, False), (0.15, False), (0.4, True)])
def test_the_sound_must_have_played_before_the_ringing(ring_after_s: float, decided: bool) -> None:
    """The far party flashes (the music starts), dials, then the third party rings: a ringback that starts with the
    sound over it (the call's own, with a prompt over it) is not this. Half a second without the pair, whose median
    level is the pair's or louder, must end within a second before the ringing stands out: here the pair stands out
    at once under a chord, so the chord must have played for most of that half second (the edge lies near 0.2 s)."""
    found = ringing(analyse(held_music(ring_dbm0=-40.0, ring_after_s=ring_after_s, recording=False)))
    assert bool(found) is decided


@pytest.mark.parametrize(("ring_s", "decided"), [(0.2, False), (0.4, True)])
def test_the_tones_must_last_ringback_under_s(ring_s: float, decided: bool) -> None:
    """`ringback_under_s` is 0.3 s of windows; a window stands once the tones fill enough of it."""
    assert bool(ringing(analyse(held_music(ring_dbm0=-40.0, ring_s=ring_s, recording=False)))) is decided


def test_the_calls_own_ringback_before_the_answer_is_left_to_the_bridged_tone_rule() -> None:
    """The call rings three times (2 s of ringback at -30 dBm0, 4 s of silence), then the far party answers and
    talks. The rings carry all of their windows' power: no sound over them, so not this rule's (the bridged-tone
    rule keeps them out: they come in a cadence, before the answer). A device hears the far end only once the call
    is connected; a recording may hold its ringing, as the README's demo call does."""
    assert ringing(analyse(held_music(opening_ring=True))) == []


@pytest.mark.parametrize(("ring_dbm0", "decided"), [(-30.0, True), (-24.0, False)])
def test_the_tones_must_be_under_other_sound(ring_dbm0: float, decided: bool) -> None:
    """The chord is -24 dBm0 in all; the pair must carry at most half its window's power, so each tone at most
    about -27 dBm0. Louder, the pair is the held line's main sound, the bridged-tone rule's."""
    assert bool(ringing(analyse(held_music(ring_dbm0=ring_dbm0, recording=False)))) is decided


@pytest.mark.parametrize("freqs", [(350.0, 440.0), (440.0,)])
def test_dial_tone_or_a_lone_440_hz_under_music_is_not_ringback(freqs: tuple[float, ...]) -> None:
    """Dial tone's 350+440 Hz is F4 and A4 to within a hertz, as music plays them; a call-waiting tone is 440 alone."""
    assert ringing(analyse(held_music(ring_dbm0=-30.0, freqs=freqs))) == []


def test_streaming_hears_it_as_a_recording_does() -> None:
    samples = held_music(ring_dbm0=-30.0)
    assert alike(streamed(samples, frames=7), analyse(samples))


@pytest.mark.parametrize("seed", [70025, 70029])
def test_tuning_calls_with_ringback_under_music_are_decided_in_time(seed: int) -> None:
    """Bridged ringback 23 and 30 dB under music on hold, with no click: missed before this rule."""
    call = build("bridged_ringback", seed, pool="tune")
    flash = call.flash_times[0]
    found = ringing(analyse(call.samples))
    assert found and flash <= found[0].at <= flash + 3.0


@pytest.mark.parametrize(("variant", "seed"), [("call_waiting_beep", 61023), ("hold_music", 60001)])
def test_tuning_calls_it_must_leave_alone(variant: str, seed: int) -> None:
    """The negatives whose 440 Hz (call-waiting beeps) or 350+440 Hz (a PBX's music) stood out the most."""
    assert ringing(analyse(build(variant, seed, pool="tune").samples)) == []


def test_a_bells_partial_beside_a_loud_a_is_not_ringback() -> None:
    """The independent generator's tuning call (seed 424243, call 206): a hold button's synthesised music whose bell
    held a partial near 480 Hz 31 dB under its A; decided as ringback before the twist test."""
    seed, index = 424243, 206
    call = build_call(seed, index, plan(seed, 300, 0.5)[index])
    assert call.variant == "hold_button_music"
    assert ringing(analyse(call.samples)) == []
