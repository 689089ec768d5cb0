"""A raised held line is a new steady noise: a switch's hiss or another generator's comfort noise. Two noises
that are not: the bursts of a cordless phone's static or a weak cell (noise too, but coming and going by 20 dB),
and a loud sound the far room was already playing (a television) going on after the far party stops talking."""

from __future__ import annotations

import numpy as np
import pytest

from firmware.dsp.levels import rms_for_dbm0
from firmware.dsp.threeway import ThreeWayConfig, analyse
from sim.channel import mulaw_roundtrip, voiceband
from tests.dsp.test_threeway import _with_talk, decisions, line

SR = 8000
START, END = 10.0, 18.0


def _to_line(x: np.ndarray) -> np.ndarray:
    y = mulaw_roundtrip(np.clip(voiceband(x), -32768, 32767))
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def with_bursts(swing_db: float, high_dbm0: float = -36.0, seed: int = 3) -> np.ndarray:
    """A quiet call (-62 dBm0 room) whose far party talks at 3-6 s; from 10 to 18 s the line carries noise that
    jumps, every 60-200 ms, between `high_dbm0` and `swing_db` below it."""
    rng = np.random.default_rng(seed)
    x = line(room_db=-62.0, access_db=-66.0, seed=seed).astype(np.float64)
    t, loud = START, True
    while t < END:
        length = float(rng.uniform(0.06, 0.2))
        a, b = round(t * SR), round(min(t + length, END) * SR)
        level = high_dbm0 if loud else high_dbm0 - swing_db
        x[a:b] += rng.normal(0.0, rms_for_dbm0(level), b - a)
        t, loud = t + length, not loud
    return _with_talk(_to_line(x), 3.0, 3.0)


@pytest.mark.parametrize(("swing_db", "decided"), [(2.0, True), (20.0, False)])
def test_noise_that_comes_and_goes_is_no_raised_held_line(swing_db: float, decided: bool) -> None:
    """Noise 26 dB over a quiet call's floor after the far party talked: steady (2 dB of wander) it is a held
    line; in bursts 20 dB apart (a cordless phone's static) it is the far end's own line, and nothing is decided."""
    found = decisions(analyse(with_bursts(swing_db)))
    assert bool(found) is decided
    if decided:
        assert START + ThreeWayConfig().hold_confirm_s - 0.1 <= found[0].at <= START + 3.0


@pytest.mark.parametrize(("spread_db", "decided"), [(12.0, True), (4.0, False)])
def test_raised_spread_db_is_what_a_raised_floor_may_wander(spread_db: float, decided: bool) -> None:
    """Bursts 8 dB apart: within a spread of 12 dB a held line, not within 4."""
    found = decisions(analyse(with_bursts(8.0), ThreeWayConfig(raised_spread_db=spread_db)))
    assert bool(found) is decided


def television(noise_from: float, tune: bool, seconds: float = 20.0, seed: int = 5) -> np.ndarray:
    """The far party talks (3-6 s) in a room where a television plays a tune at -28 dBm0 that never lets up (or
    no tune: a quiet room); from `noise_from` the line carries noise at -38 dBm0 until the end."""
    rng = np.random.default_rng(seed)
    x = line(seconds, room_db=-60.0, access_db=-66.0, seed=seed).astype(np.float64)
    end = noise_from if tune else 0.0
    notes = [262.0, 330.0, 392.0, 523.0, 440.0, 349.0]
    t0 = 0.0
    while t0 < end:
        a, b = round(t0 * SR), round(min(t0 + 0.25, end) * SR)
        tt = np.arange(b - a) / SR
        f = notes[int(rng.integers(len(notes)))]
        x[a:b] += rms_for_dbm0(-28.0) * np.sqrt(2) * (np.sin(2 * np.pi * f * tt) + 0.5 * np.sin(4 * np.pi * f * tt))
        t0 += 0.25
    a = round(noise_from * SR)
    x[a:] += rng.normal(0.0, rms_for_dbm0(-38.0), len(x) - a)
    return _with_talk(_to_line(x), 3.0, 3.0)


@pytest.mark.parametrize(("tune", "decided"), [(False, True), (True, False)])
def test_a_televisions_noise_going_on_after_the_far_party_stops_is_no_held_line(tune: bool, decided: bool) -> None:
    """Noise over a quiet call's floor after the far party talked is a held line; but as loud as the tune the room
    played before it, it is no hold that stopped the masker: the masker plays on."""
    assert bool(decisions(analyse(television(noise_from=10.0, tune=tune)))) is decided
