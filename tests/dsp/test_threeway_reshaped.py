"""A held line may fill with another generator's noise at about the call's own level: another network's comfort
noise has its own spectral shape. Against the call's recent pauses such a noise is reshaped, and no quieter in some
band; a mute or a set-down phone only takes sound away, quieter in every band, whatever colour it leaves."""

from __future__ import annotations

import numpy as np
import pytest

from firmware.dsp.levels import rms_for_dbm0
from firmware.dsp.threeway import ThreeWayConfig, ThreeWayDetector, analyse
from sim.channel import mulaw_roundtrip, voiceband
from tests.dsp.test_threeway import decisions

SR = 8000
HOLD_AT = 12.0
ROOM_DBM0 = -50.0


def tilted(rng: np.random.Generator, n: int, level_dbm0: float, tilt_db: float) -> np.ndarray:
    """Noise of `level_dbm0` whose gain rises `tilt_db` in a straight line (in dB) from 400 to 3400 Hz."""
    spec = np.fft.rfft(rng.normal(0.0, rms_for_dbm0(level_dbm0), n))
    f = np.fft.rfftfreq(n, 1 / SR)
    gain_db = tilt_db * (np.clip(f, 400.0, 3400.0) - 1900.0) / 3000.0
    return np.fft.irfft(spec * 10 ** (gain_db / 20), n)


def cut_to(tilt_db: float, below_db: float, talk_to_cut_s: float = 0.0, seconds: float = 20.0) -> np.ndarray:
    """Talk (1 s tones, 1.5 s apart; for the last `talk_to_cut_s` before the cut, one long tone) over a white room
    of -50 dBm0; at 12 s the far end is cut, with no click, to a noise `below_db` quieter whose spectrum is tilted
    by `tilt_db`."""
    rng = np.random.default_rng(11)
    n = round(seconds * SR)
    a = round(HOLD_AT * SR)
    x = np.concatenate([tilted(rng, a, ROOM_DBM0, 0.0), tilted(rng, n - a, ROOM_DBM0 - below_db, tilt_db)])
    talk = np.zeros(n, dtype=bool)
    for start in np.arange(0.5, HOLD_AT - 2.5, 2.5):
        talk[round(start * SR) : round((start + 1.0) * SR)] = True
    talk[round((HOLD_AT - talk_to_cut_s) * SR) : a] = True
    x[talk] += rms_for_dbm0(-20.0) * np.sqrt(2) * np.sin(2 * np.pi * 440 * np.arange(n) / SR)[talk]
    y = mulaw_roundtrip(np.clip(voiceband(x), -32768, 32767))
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def test_a_hold_to_noise_of_another_shape_at_the_calls_level_is_decided_within_3_s() -> None:
    """Tilted 20 dB and 3 dB quieter: its bands stand -10.5, -5.5, -0.5 and +4.5 dB from the pauses', so no band
    rises `band_rise_db` and the floor does not drop `floor_drop_db`; only its shape tells."""
    (d,) = decisions(analyse(cut_to(tilt_db=20.0, below_db=3.0)))
    assert HOLD_AT <= d.at <= HOLD_AT + 3.0
    assert any("held line" in e for e in d.evidence)


@pytest.mark.parametrize(("band_shape_db", "decided"), [(3.5, True), (8.0, False)])
def test_the_shape_must_differ_band_shape_db(band_shape_db: float, decided: bool) -> None:
    """The tilt differs from the pauses' by about 5.6 dB RMS over the four bands: a hold at 3.5, nothing at 8."""
    found = decisions(analyse(cut_to(tilt_db=20.0, below_db=3.0), ThreeWayConfig(band_shape_db=band_shape_db)))
    assert bool(found) == decided


def test_a_slightly_other_colour_is_no_hold() -> None:
    """Tilted 8 dB (about 2.2 dB RMS): within what a line's colour wanders."""
    assert decisions(analyse(cut_to(tilt_db=8.0, below_db=0.0))) == []


def test_a_noise_quieter_in_every_band_is_no_hold_whatever_its_shape() -> None:
    """Tilted 20 dB but 10 dB quieter: every band under the pauses' (the top one by 2.5 dB), as a mute leaves its
    line's own noise."""
    assert decisions(analyse(cut_to(tilt_db=20.0, below_db=10.0))) == []


@pytest.mark.parametrize(("shape_memory_s", "decided"), [(5.0, False), (10.0, True)])
def test_only_the_pauses_of_the_last_shape_memory_s_are_compared(shape_memory_s: float, decided: bool) -> None:
    """Talk for the 6.5 s before the cut: its last pause (of 1.5 s) ended then. Comfort noise's shape follows its
    background, so an older pause says little of the line now."""
    x = cut_to(tilt_db=20.0, below_db=3.0, talk_to_cut_s=6.5)
    assert bool(decisions(analyse(x, ThreeWayConfig(shape_memory_s=shape_memory_s)))) == decided


def test_streamed_in_20_ms_frames_the_reshaped_hold_is_decided_as_in_batch() -> None:
    x = cut_to(tilt_db=20.0, below_db=3.0)
    det = ThreeWayDetector()
    streamed = [e for i in range(0, len(x), 160) for e in det.feed(x[i : i + 160], i / SR)] + det.flush()
    assert [round(d.at, 3) for d in decisions(streamed)] == [round(d.at, 3) for d in decisions(analyse(x))] != []
