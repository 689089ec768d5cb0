"""Mains hum on the far end's loop stays through a mute and goes with a hold in the network. On a quiet line a mute
drops to a floor as deep as a network hold's, so without hum the two are the same audio; with the loop's hum heard
before and through the quiet, the quiet is a mute. The edges: how long the hum was heard before, how far back,
how much of the held line it is judged on, and whether it stands over the line's noise at all. Tuning calls of
this corpus that alarmed before this test raise nothing."""

from __future__ import annotations

import numpy as np
import pytest

from firmware.dsp.levels import rms_for_dbm0
from firmware.dsp.threeway import ThreeWayConfig, analyse
from firmware.dsp.threeway_hum import LineHum
from firmware.dsp.tones import sines
from sim.corpus import build
from tests.dsp.test_threeway import decisions, line

ROOM_DB, ACCESS_DB = -55.0, -78.0  # a quiet loop: a mute drops far under the idle ceiling
HUM_DBM0 = -45.0  # 60 Hz with its 3rd and 5th harmonics, as sim.channel.add_hum makes it


def decided_at(samples: np.ndarray) -> list[float]:
    return [round(d.at, 2) for d in decisions(analyse(samples))]


def test_a_mute_on_a_quiet_line_is_a_hold_without_hum_and_not_with_it() -> None:
    """The mute's quiet is the loop's own noise at -78 dBm0: decided after hold_confirm_s where no hum tells."""
    assert decided_at(line(25.0, mic_off=(10.0, 20.0), room_db=ROOM_DB, access_db=ACCESS_DB)) != []
    assert decided_at(line(25.0, mic_off=(10.0, 20.0), hum=(0.0, HUM_DBM0), room_db=ROOM_DB, access_db=ACCESS_DB)) == []


def test_a_hold_in_the_network_takes_the_hum_away_and_is_decided_as_before() -> None:
    without = decided_at(line(25.0, hold=(10.0, 20.0), room_db=ROOM_DB, access_db=ACCESS_DB))
    assert without != []
    assert (
        decided_at(line(25.0, hold=(10.0, 20.0), hum=(0.0, HUM_DBM0), room_db=ROOM_DB, access_db=ACCESS_DB)) == without
    )


@pytest.mark.parametrize(("hum_from", "decided"), [(8.5, False), (9.75, True)])
def test_the_hum_must_have_been_heard_before_the_quiet(hum_from: float, decided: bool) -> None:
    """`hum_seen` (3) half-second windows, a quarter second apart, before the quiet began at 10.0 s (its hold starts
    on the frame it is heard, 10.08 s): from 8.5 s there are five such windows, from 9.75 s at most one. A hum
    heard only as the line went quiet is not the loop's own."""
    assert (
        bool(
            decided_at(line(25.0, mic_off=(10.0, 20.0), hum=(hum_from, HUM_DBM0), room_db=ROOM_DB, access_db=ACCESS_DB))
        )
        is decided
    )


def test_a_hum_line_must_stand_hum_stand_db_over_the_bins_beside_it() -> None:
    """A 300 Hz line in white noise, measured in 0.5 s Hann windows (2 Hz bins): its three bins' mean stands
    10*log10(N * P_line / (6 * ln 2 * P_noise)) dB over the neighbours' median, N = 4000 samples. At a line 20 dB
    under the noise that is 9.8 dB: heard at hum_stand_db = 7, not at 13."""
    x = np.random.default_rng(3).normal(0.0, rms_for_dbm0(-50.0), 8000 * 40) + sines([300.0], [-70.0], 40.0)

    def stayed(stand_db: float) -> bool:
        hum = LineHum(ThreeWayConfig(hum_stand_db=stand_db))
        hum.push(x, 0.0)
        return hum.stayed(30.0, 40.0)

    assert stayed(7.0)
    assert not stayed(13.0)


def hum_heard(spans: list[tuple[float, float]], seconds: float = 60.0) -> LineHum:
    """A LineHum fed `seconds` of white noise at -60 dBm0 with a 300 Hz line at -60 dBm0 (standing some 30 dB over
    its neighbours) during each of `spans`."""
    x = np.random.default_rng(5).normal(0.0, rms_for_dbm0(-60.0), round(8000 * seconds))
    for a, b in spans:
        x[round(a * 8000) : round(b * 8000)] += sines([300.0], [-60.0], b - a)
    hum = LineHum(ThreeWayConfig())
    hum.push(x, 0.0)
    return hum


@pytest.mark.parametrize(("held_s", "stayed"), [(0.75, False), (1.0, True)])
def test_the_hum_is_judged_on_three_windows_of_the_held_line_or_more(held_s: float, stayed: bool) -> None:
    """Windows of 0.5 s every 0.25 s: 0.75 s of held line holds two of them, 1.0 s three. A held-line decision
    comes 1.4 s after its start at the soonest without a tone, so every such decision is judged."""
    assert hum_heard([(0.0, 60.0)]).stayed(30.0, 30.0 + held_s) is stayed


@pytest.mark.parametrize(("hum_until", "stayed"), [(14.0, False), (16.0, True)])
def test_the_calls_own_hum_is_the_hum_of_the_last_hum_lookback_s(hum_until: float, stayed: bool) -> None:
    """Hum from the start of the call, gone, then back under a quiet at 45 s: the call's own only if heard in
    `hum_seen` (3) windows of the 30 s before the quiet. Windows from 15 s on count: hum until 16 s fills three
    (from 15.0, 15.25 and 15.5 s), hum until 14 s none."""
    assert hum_heard([(0.0, hum_until), (45.0, 60.0)]).stayed(45.0, 50.0) is stayed


@pytest.mark.slow
@pytest.mark.parametrize(
    ("variant", "seed"),
    [
        ("mute", 61040),  # access -73 dBm0, 60 Hz hum: two mutes decided at 30.3 and 83.6 s before this test
        ("hold_button", 61039),  # access -72 dBm0, 60 Hz hum: decided at 8.2 and 59.6 s
    ],
)
def test_tuning_calls_of_mutes_on_quiet_lines_with_hum_raise_nothing(variant: str, seed: int) -> None:
    assert decisions(analyse(build(variant, seed, pool="tune").samples)) == []
