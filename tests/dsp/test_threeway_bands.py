"""A held line's new noise may sit no louder overall than the call's, yet stand above it in one band: another
generator's comfort noise, a switch's hiss of another colour. A mute, a pause or a phone set down only ever takes
sound away, in every band. Only a noise that rises `band_rise_db` in some band is a raised held line."""

from __future__ import annotations

import numpy as np
import pytest

from firmware.dsp.levels import rms_for_dbm0
from firmware.dsp.threeway import ThreeWayConfig, ThreeWayDetector, analyse
from sim.channel import mulaw_roundtrip, voiceband
from sim.corpus import build
from tests.dsp.test_threeway import decisions

SR = 8000
HOLD_AT = 12.0
HIGH_BAND_HZ = (2650.0, 3400.0)  # the top of the four bands the floor is measured in


def shaped(rng: np.random.Generator, n: int, level_dbm0: float, band_db: float) -> np.ndarray:
    """White noise of `level_dbm0` with 2650-3400 Hz `band_db` louder (or quieter, when negative)."""
    spec = np.fft.rfft(rng.normal(0.0, rms_for_dbm0(level_dbm0), n))
    f = np.fft.rfftfreq(n, 1 / SR)
    spec[(f >= HIGH_BAND_HZ[0]) & (f < HIGH_BAND_HZ[1])] *= 10 ** (band_db / 20)
    return np.fft.irfft(spec, n)


def held_line(band_db: float, below_db: float = 3.0, seconds: float = 24.0, room_band_db: float = 0.0) -> np.ndarray:
    """Talk (steady tones in turns) over a white room of -55 dBm0 (its 2650-3400 Hz `room_band_db` louder); at 12 s
    the whole far end is cut, with no click, to a new noise `below_db` quieter overall whose 2650-3400 Hz band is
    `band_db` louder than the rest of it."""
    rng = np.random.default_rng(7)
    n = round(seconds * SR)
    a = round(HOLD_AT * SR)
    x = np.concatenate([shaped(rng, a, -55.0, room_band_db), shaped(rng, n - a, -55.0 - below_db, band_db)])
    t = np.arange(round(1.2 * SR)) / SR
    for start in np.arange(0.5, HOLD_AT - 1.0, 2.0):
        s = round(start * SR)
        x[s : s + len(t)] += rms_for_dbm0(-20.0) * np.sqrt(2) * np.sin(2 * np.pi * 440 * t)
    y = mulaw_roundtrip(np.clip(voiceband(x), -32768, 32767))
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def test_a_held_line_louder_in_one_band_only_is_decided_within_3_s_with_held_line_evidence() -> None:
    (d,) = decisions(analyse(held_line(band_db=11.0)))
    assert HOLD_AT <= d.at <= HOLD_AT + 3.0
    assert any("held line" in e for e in d.evidence)


@pytest.mark.parametrize(("band_rise_db", "decided"), [(6.0, True), (10.0, False)])
def test_the_band_must_rise_band_rise_db(band_rise_db: float, decided: bool) -> None:
    """The new noise's top band stands about 8 dB over the call's there (11 dB louder than the rest of a noise 3 dB
    quieter): a hold at 6 dB, nothing at 10."""
    found = decisions(analyse(held_line(band_db=11.0), ThreeWayConfig(band_rise_db=band_rise_db)))
    assert bool(found) == decided


def test_a_noise_a_little_brighter_than_the_call_is_no_hold() -> None:
    """The top band 2 dB over the call's: within what a line's floor wanders."""
    assert decisions(analyse(held_line(band_db=5.0))) == []


def test_a_line_that_only_loses_sound_is_no_hold_whatever_its_new_colour() -> None:
    """A mute leaves the line's own noise: quieter in every band, even if duller in some (no band rises)."""
    assert decisions(analyse(held_line(band_db=-10.0, below_db=6.0))) == []


def test_a_band_that_was_as_loud_in_the_calls_pauses_has_not_risen() -> None:
    """The call's own room was already that bright: the same spectrum after the cut is a pause, not a new noise."""
    assert decisions(analyse(held_line(band_db=11.0, room_band_db=11.0))) == []


@pytest.mark.parametrize(
    ("variant", "seed"),
    [("comfort_hold", 60493512), ("mobile_no_click", 86127861), ("hiss_hold", 1823388327)],
)
def test_tuning_calls_whose_held_line_rose_in_one_band_are_decided(variant: str, seed: int) -> None:
    """Tune-pool attempts (never evaluation seeds) missed while only the whole band's floor could rise."""
    call = build(variant, seed)
    flash = call.flash_times[0]
    assert any(flash - 0.1 <= d.at <= flash + 3.0 for d in decisions(analyse(call.samples)))


def test_streamed_in_20_ms_frames_the_raised_band_is_decided_as_in_batch() -> None:
    """The band floors' running medians live across blocks: the device's 20 ms frames give the batch's decision."""
    x = held_line(band_db=11.0)
    det = ThreeWayDetector()
    streamed = [e for i in range(0, len(x), 160) for e in det.feed(x[i : i + 160], i / SR)] + det.flush()
    assert [round(d.at, 3) for d in decisions(streamed)] == [round(d.at, 3) for d in decisions(analyse(x))] != []
