"""Q.24 (AT&T column) conformance of the DTMF receiver, at both edges of every limit."""

from __future__ import annotations

import numpy as np
import pytest

from firmware.dsp.dtmf import DIGITS, KEY_FREQS, DtmfConfig, DtmfReceiver, detect
from firmware.dsp.mix import dtmf_key, dtmf_string, mix_into
from firmware.dsp.tones import sines
from hal.audio import FRAME_SAMPLES, SAMPLE_RATE, to_int16
from sim.channel import add_echo, add_noise, telephone


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SAMPLE_RATE))


def keys(signal: np.ndarray) -> str:
    return "".join(d.digit for d in detect(to_int16(signal)))


def one(digit: str = "5", on_s: float = 0.06, **kwargs: float) -> np.ndarray:
    return np.concatenate([silence(0.1), dtmf_key(digit, on_s, **kwargs), silence(0.1)])


def pair(low_hz: float, high_hz: float, low_dbm0: float, high_dbm0: float, on_s: float = 0.06) -> np.ndarray:
    return np.concatenate([silence(0.1), sines([low_hz, high_hz], [low_dbm0, high_dbm0], on_s), silence(0.1)])


def test_all_sixteen_keys_in_order() -> None:
    assert keys(dtmf_string(DIGITS, lead_s=0.1)) == DIGITS


@pytest.mark.parametrize("digit", list(DIGITS))
@pytest.mark.parametrize("error", [-0.015, 0.015])
def test_frequency_error_of_1_5_percent_is_accepted(digit: str, error: float) -> None:
    assert keys(one(digit, freq_error=error)) == digit


@pytest.mark.parametrize("digit", list(DIGITS))
@pytest.mark.parametrize("error", [-0.035, 0.035])
def test_frequency_error_of_3_5_percent_is_rejected(digit: str, error: float) -> None:
    assert keys(one(digit, freq_error=error)) == ""


@pytest.mark.parametrize("tone", ["low", "high"])
@pytest.mark.parametrize("error", [-0.035, 0.035])
def test_one_tone_off_by_3_5_percent_is_rejected(tone: str, error: float) -> None:
    low, high = KEY_FREQS["8"]
    if tone == "low":
        low *= 1 + error
    else:
        high *= 1 + error
    assert keys(pair(low, high, -10, -10)) == ""


@pytest.mark.parametrize("twist_db", [4.0, -8.0])
def test_twist_within_q24_is_accepted(twist_db: float) -> None:
    for digit in "1D":
        assert keys(one(digit, level_dbm0=-15, twist_db=twist_db)) == digit


@pytest.mark.parametrize("twist_db", [7.0, -11.0])
def test_twist_beyond_the_configured_limits_is_rejected(twist_db: float) -> None:
    cfg = DtmfConfig()
    assert twist_db > cfg.max_reverse_twist_db or -twist_db > cfg.max_normal_twist_db
    assert keys(one("5", level_dbm0=-15, twist_db=twist_db)) == ""


@pytest.mark.parametrize("level", [0.0, -25.0])
def test_levels_from_0_to_minus_25_dbm0_per_tone_are_accepted(level: float) -> None:
    assert keys(one("0", level_dbm0=level)) == "0"


def test_a_tone_pair_below_the_level_floor_is_rejected() -> None:
    floor = DtmfConfig().min_level_dbm0
    assert keys(one("0", level_dbm0=floor - 3)) == ""
    assert keys(one("0", level_dbm0=floor + 3)) == "0"


def test_40_ms_tone_is_accepted_and_23_ms_rejected() -> None:
    for digit in DIGITS:
        assert keys(one(digit, on_s=0.040)) == digit
        assert keys(one(digit, on_s=0.023)) == ""


def test_40_ms_pause_separates_two_presses_of_the_same_key() -> None:
    assert keys(dtmf_string("55", on_s=0.040, off_s=0.040, lead_s=0.1)) == "55"


def test_10_ms_dropout_is_bridged_and_a_longer_gap_is_not() -> None:
    tone = dtmf_key("7", 0.2)
    for gap_ms, expected in [(10, "7"), (40, "77")]:
        cut = tone.copy()
        cut[800 : 800 + gap_ms * 8] = 0.0
        assert keys(np.concatenate([silence(0.1), cut, silence(0.1)])) == expected


@pytest.mark.parametrize("snr_db", [15.0, 10.0])
def test_detection_in_line_noise(snr_db: float) -> None:
    rng = np.random.default_rng(3)
    signal = dtmf_string(DIGITS, on_s=0.05, off_s=0.05, level_dbm0=-15, lead_s=0.1)
    noisy = add_noise(signal, snr_db, rng, reference_dbm0=-12.0)  # noise below the digit's two-tone power
    assert keys(noisy) == DIGITS


def test_digits_through_a_telephone_channel() -> None:
    signal = dtmf_string(DIGITS, level_dbm0=-20, twist_db=2, lead_s=0.1)
    assert keys(telephone(signal, np.random.default_rng(5), snr_db=20)) == DIGITS


def test_digits_over_dial_tone() -> None:
    signal = dtmf_string(DIGITS, level_dbm0=-15, lead_s=0.1)
    dial = sines([350, 440], [-13, -13], len(signal) / SAMPLE_RATE)
    assert keys(signal + dial) == DIGITS
    assert keys(dial) == ""


@pytest.mark.parametrize("seed", range(4))
def test_every_key_at_minus_20_under_dial_tone_at_minus_13_whatever_the_phase(seed: int) -> None:
    """Dial tone 7 dB above a key leaks into the key's 5 ms bins and beats with it; no phase may hide a key."""
    from firmware.dsp.levels import rms_for_dbm0

    rng = np.random.default_rng(seed)
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    amp = rms_for_dbm0(-20) * np.sqrt(2)
    dial_amp = rms_for_dbm0(-13) * np.sqrt(2)
    for digit in DIGITS:
        low, high = KEY_FREQS[digit]
        ph = rng.uniform(0, 2 * np.pi, 4)
        dial = dial_amp * (np.sin(2 * np.pi * 350 * t + ph[0]) + np.sin(2 * np.pi * 440 * t + ph[1]))
        on = (t >= 0.3) & (t < 0.3 + rng.uniform(0.045, 0.1))
        key = amp * (np.sin(2 * np.pi * low * t + ph[2]) + np.sin(2 * np.pi * high * t + ph[3])) * on
        assert keys(dial + key) == digit, (digit, seed)


def test_our_prompt_echoed_back_neither_hides_keys_nor_makes_them(prompt: np.ndarray) -> None:
    line = np.zeros(len(prompt))
    for loss_db in (6.0, 20.0):
        echo_only = add_echo(line, prompt, loss_db)
        assert keys(echo_only) == ""
        key_times = np.arange(0.5, len(prompt) / SAMPLE_RATE - 0.5, 0.7)
        pressed = echo_only.copy()
        for t in key_times:
            pressed = mix_into(pressed, dtmf_key("9", 0.08, level_dbm0=-10), t, -10).astype(float)
        assert keys(pressed) == "9" * len(key_times)


def test_streaming_gives_the_batch_answer_for_any_chunking() -> None:
    rng = np.random.default_rng(9)
    signal = to_int16(telephone(dtmf_string("147*2580369#ABCD", lead_s=0.13), rng, snr_db=18))
    batch = [(d.digit, d.start_s, d.end_s) for d in detect(signal)]
    for chunk in (FRAME_SAMPLES, 37, 1000):
        rx, events = DtmfReceiver(), []
        for i in range(0, len(signal), chunk):
            events += rx.feed(signal[i : i + chunk], 100.0 + i / SAMPLE_RATE)
        events += rx.finish()
        starts = [e for e in events if e.kind == "start"]
        ends = [e for e in events if e.kind == "end"]
        streamed = [(s.digit, s.at - 100.0, e.at - 100.0) for s, e in zip(starts, ends, strict=True)]
        assert [d for d, *_ in streamed] == [d for d, *_ in batch]
        assert np.allclose([t for _, *ts in streamed for t in ts], [t for _, *ts in batch for t in ts])


def test_streaming_events_come_while_the_key_is_held() -> None:
    signal = to_int16(one("3", on_s=0.5))
    rx = DtmfReceiver()
    seen_start_at = None
    for i in range(0, len(signal), FRAME_SAMPLES):
        for event in rx.feed(signal[i : i + FRAME_SAMPLES], i / SAMPLE_RATE):
            if event.kind == "start":
                seen_start_at = (i + FRAME_SAMPLES) / SAMPLE_RATE
                assert rx.active == "3"
                assert abs(event.at - 0.1) < 0.006
    assert seen_start_at is not None and seen_start_at <= 0.1 + 0.06


def test_start_and_end_times_match_the_tone() -> None:
    [digit] = detect(to_int16(one("6", on_s=0.2)))
    assert abs(digit.start_s - 0.1) <= 0.005 and abs(digit.end_s - 0.3) <= 0.005


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="freq_tolerance"):
        DtmfConfig(freq_tolerance=0.2)
