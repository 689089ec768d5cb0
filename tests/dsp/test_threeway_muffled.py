"""A phone set down (or a hand over it) muffles the room: its high band falls, its low band stays within a few dB.
A hold takes the whole room away. Only the hold is a three-way attempt, whatever the whole band's floor did."""

from __future__ import annotations

import numpy as np
import pytest

from firmware.dsp.levels import rms_for_dbm0
from firmware.dsp.threeway import ThreeWayConfig, analyse
from sim.channel import mulaw_roundtrip, voiceband
from sim.corpus import build
from tests.dsp.test_threeway import decisions

SR = 8000
KNOCK_AT = 10.0


def set_down(quieter_db: float, low_pass: bool, seconds: float = 25.0) -> np.ndarray:
    """Talk (loud steady tones in turns) over a room of -50 dBm0 and a line of -70 dBm0; at 10 s the far party puts
    the phone down with a knock, and the room goes on `quieter_db` quieter (low-passed as through a receiver lying
    face down, when `low_pass`)."""
    rng = np.random.default_rng(3)
    n = round(seconds * SR)
    room = rng.normal(0.0, rms_for_dbm0(-50.0), n)
    a = round(KNOCK_AT * SR)
    after = room[a:]
    if low_pass:
        after = np.convolve(after, np.ones(5) / 5, mode="same")
    room[a:] = after * 10 ** (-quieter_db / 20)
    x = room + rng.normal(0.0, rms_for_dbm0(-70.0), n)
    t = np.arange(round(1.2 * SR)) / SR
    for start in np.arange(0.5, KNOCK_AT - 1.0, 2.0):  # talk in turns up to the knock
        s = round(start * SR)
        x[s : s + len(t)] += rms_for_dbm0(-20.0) * np.sqrt(2) * np.sin(2 * np.pi * 440 * t)
    k = round(0.008 * SR)
    x[a : a + k] += rng.normal(0.0, rms_for_dbm0(-12.0), k) * np.exp(-np.arange(k) / (k / 2))
    y = mulaw_roundtrip(np.clip(voiceband(x), -32768, 32767))
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


@pytest.mark.parametrize("low_pass", [True, False])
def test_a_phone_set_down_with_a_knock_is_not_a_hold(low_pass: bool) -> None:
    assert decisions(analyse(set_down(4.0, low_pass))) == []


@pytest.mark.parametrize(("quieter_db", "decided"), [(6.0, False), (12.0, True)])
def test_the_low_band_must_fall_muffle_low_db_for_a_knock_and_a_quieter_room_to_be_a_hold(
    quieter_db: float, decided: bool
) -> None:
    assert ThreeWayConfig().muffle_low_db == 8.0
    found = decisions(analyse(set_down(quieter_db, low_pass=False)))
    assert bool(found) == decided
    if decided:
        assert KNOCK_AT <= found[0].at <= KNOCK_AT + 3.0


def test_tuning_calls_of_phones_set_down_that_once_raised_false_alarms_raise_none() -> None:
    """Tune-pool calls (never evaluation seeds) whose muffled room was decided as a hold after its knock."""
    for seed in (5004, 5012, 5023, 5030, 5040, 5045):
        assert decisions(analyse(build("set_down", seed).samples)) == [], seed
