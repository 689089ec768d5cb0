"""Generators, prompt mixing and level meters: what the handset plays is at the level it was asked for."""

from __future__ import annotations

import numpy as np
import pytest

from firmware.dsp.dtmf import detect
from firmware.dsp.levels import dbm0
from firmware.dsp.mix import active_level, at_level, dtmf_key, dtmf_string, frame_levels, mix_into
from firmware.dsp.tones import sines
from hal.audio import FRAME_SAMPLES, SAMPLE_RATE, to_int16


def test_dtmf_key_levels_and_twist() -> None:
    key = dtmf_key("1", 1.0, level_dbm0=-10.0, twist_db=2.0)
    spectrum = np.abs(np.fft.rfft(key)) / len(key) * 2
    freqs = np.fft.rfftfreq(len(key), 1 / SAMPLE_RATE)
    low, high = spectrum[np.argmin(abs(freqs - 697))], spectrum[np.argmin(abs(freqs - 1209))]
    assert 20 * np.log10(high / low) == pytest.approx(2.0, abs=0.1)
    total = 10 * np.log10(10 ** (-10 / 10) + 10 ** (-8 / 10))
    assert dbm0(key) == pytest.approx(total, abs=0.05)


def test_unknown_key_is_refused() -> None:
    with pytest.raises(ValueError, match="'E' is not a DTMF key"):
        dtmf_key("E", 0.1)


def test_dialled_string_round_trips_through_the_receiver() -> None:
    assert "".join(d.digit for d in detect(to_int16(dtmf_string("0123456789*#ABCD", lead_s=0.1)))) == (
        "0123456789*#ABCD"
    )


def test_frame_levels_per_20_ms_frame() -> None:
    x = np.concatenate([sines([1000], [-10], 0.04), np.zeros(FRAME_SAMPLES), sines([1000], [-30], 0.02)])
    levels = frame_levels(x)
    assert len(levels) == 4
    assert levels[0] == pytest.approx(-10, abs=0.05) and levels[3] == pytest.approx(-30, abs=0.05)
    assert levels[2] == -np.inf


def test_active_level_ignores_pauses() -> None:
    speechlike = np.concatenate([sines([500], [-20], 0.5), np.zeros(4000)])
    assert active_level(speechlike) == pytest.approx(-20, abs=0.05)
    assert active_level(np.zeros(800)) == -np.inf


def test_prompt_mixed_at_the_requested_level_and_position() -> None:
    stream = np.zeros(SAMPLE_RATE * 2)
    prompt = sines([700], [-3], 0.5)
    out = mix_into(stream, prompt, 1.0, -18.0)
    assert out.dtype == np.int16 and len(out) == len(stream)
    assert not out[:SAMPLE_RATE].any()
    assert dbm0(out[SAMPLE_RATE : SAMPLE_RATE + 4000]) == pytest.approx(-18, abs=0.1)


def test_prompt_past_the_end_is_cut_and_loud_mixes_clip_instead_of_wrapping() -> None:
    stream = sines([300], [0], 1.0)
    out = mix_into(stream, sines([300], [0], 1.0), 0.5, 0.0)
    assert len(out) == len(stream) and out.max() == 32767


def test_prompt_before_the_stream_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot start before"):
        mix_into(np.zeros(800), np.ones(80), -0.1, -10)


def test_silence_stays_silence_when_levelled() -> None:
    assert not at_level(np.zeros(1600), -10).any()
