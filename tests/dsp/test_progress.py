"""Call-progress tones: every North American tone, reported early, with its span; busy and reorder told apart."""

from __future__ import annotations

import numpy as np
import pytest

from firmware.dsp.progress import ProgressConfig, ProgressDetector, detect_progress
from firmware.dsp.tones import cadence, sines
from hal.audio import FRAME_SAMPLES, SAMPLE_RATE, to_int16
from hal.audio_file import read_wav
from sim.channel import telephone
from sim.sounds import MOH
from tests.dsp.conftest import need

LEAD = 0.5


def sit() -> np.ndarray:
    return np.concatenate([sines([913.8], [-14], 0.274), sines([1370.6], [-14], 0.274), sines([1776.7], [-14], 0.380)])


def recall_dial(total_s: float = 2.0) -> np.ndarray:
    bursts = cadence([350, 440], -13, [0.1, 0.1], 0.6)
    return np.concatenate([bursts, sines([350, 440], [-13, -13], total_s - 0.6)])


#: tone -> (signal, true end of its last on-segment, latest acceptable report after onset)
TONES = {
    "dial": (lambda: sines([350, 440], [-13, -13], 3.0), 3.0, 0.40),
    "recall_dial": (lambda: recall_dial(), 2.0, 0.40),
    "ringback": (lambda: cadence([440, 480], -19, [2.0, 4.0], 8.0), 8.0, 0.40),
    "busy": (lambda: cadence([480, 620], -24, [0.5, 0.5], 3.0), 2.5, 0.50),
    "reorder": (lambda: cadence([480, 620], -24, [0.25, 0.25], 2.0), 1.75, 0.40),
    "sit": (sit, 0.928, 0.50),
    "call_waiting": (lambda: sines([440], [-13], 0.3), 0.3, 0.45),
}


def on_line(signal: np.ndarray, tail_s: float = 1.0, snr_db: float | None = 30.0) -> np.ndarray:
    x = np.concatenate([np.zeros(round(LEAD * SAMPLE_RATE)), signal, np.zeros(round(tail_s * SAMPLE_RATE))])
    return to_int16(telephone(x, np.random.default_rng(2), snr_db=snr_db))


def stream(samples: np.ndarray) -> list[tuple[str, str, float, float]]:
    """(kind, tone, at, when reported) from 20 ms frames."""
    detector = ProgressDetector()
    out: list[tuple[str, str, float, float]] = []
    for i in range(0, len(samples) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
        for e in detector.feed(samples[i : i + FRAME_SAMPLES], i / SAMPLE_RATE):
            out.append((e.kind, e.tone, e.at, (i + FRAME_SAMPLES) / SAMPLE_RATE))
    return out + [(e.kind, e.tone, e.at, len(samples) / SAMPLE_RATE) for e in detector.finish()]


@pytest.mark.parametrize("tone", list(TONES))
def test_each_tone_is_found_with_its_span(tone: str) -> None:
    make, end, _ = TONES[tone]
    [span] = detect_progress(on_line(make(), tail_s=5.0 if tone == "ringback" else 1.0))
    assert span.tone == tone
    assert abs(span.start_s - LEAD) <= 0.02
    assert abs(span.end_s - (LEAD + end)) <= 0.03


@pytest.mark.parametrize("tone", list(TONES))
def test_each_tone_is_reported_early_and_streaming_agrees_with_batch(tone: str) -> None:
    make, _, latest = TONES[tone]
    samples = on_line(make(), tail_s=5.0 if tone == "ringback" else 1.0)
    events = stream(samples)
    assert [(k, t) for k, t, *_ in events] == [("start", tone), ("end", tone)]
    assert events[0][3] - LEAD <= latest
    [span] = detect_progress(samples)
    assert (span.start_s, span.end_s) == pytest.approx((events[0][2], events[1][2]))


def test_ringback_is_reported_long_before_one_full_cycle() -> None:
    events = stream(on_line(cadence([440, 480], -19, [2.0, 4.0], 6.0), tail_s=0.0))
    assert events[0][:2] == ("start", "ringback")
    assert events[0][3] - LEAD < 0.5


def test_busy_is_reported_once_an_on_segment_outlasts_reorder() -> None:
    cfg = ProgressConfig()
    assert cfg.reorder_on.high < cfg.busy_min < 0.5
    events = stream(on_line(cadence([480, 620], -24, [0.5, 0.5], 2.0)))
    assert events[0][1] == "busy" and events[0][3] - LEAD < 0.5  # before the first on-segment ends


@pytest.mark.parametrize("on_s,expected", [(0.20, "reorder"), (0.30, "reorder"), (0.45, "busy"), (0.55, "busy")])
def test_busy_and_reorder_by_on_time_at_both_edges(on_s: float, expected: str) -> None:
    spans = detect_progress(on_line(cadence([480, 620], -24, [on_s, on_s], 4 * on_s)))
    assert [s.tone for s in spans] == [expected]


@pytest.mark.parametrize("tone,pattern", [("busy", [0.5, 0.5]), ("reorder", [0.25, 0.25])])
def test_tone_already_on_when_the_recording_starts(tone: str, pattern: list[float]) -> None:
    samples = to_int16(cadence([480, 620], -24, pattern, 3.0)[round(0.1 * SAMPLE_RATE) :])
    assert [s.tone for s in detect_progress(samples)] == [tone]


def test_a_short_steady_dial_like_burst_is_not_dial_tone() -> None:
    assert detect_progress(on_line(sines([350, 440], [-13, -13], 0.25))) == []
    assert [s.tone for s in detect_progress(on_line(sines([350, 440], [-13, -13], 0.4)))] == ["dial"]


@pytest.mark.parametrize("on_s,found", [(0.25, False), (0.30, True), (0.44, True), (0.6, False)])
def test_call_waiting_burst_length_edges(on_s: float, found: bool) -> None:
    spans = detect_progress(on_line(sines([440], [-13], on_s)))
    assert [s.tone for s in spans] == (["call_waiting"] if found else [])


def test_sit_needs_its_rising_sequence() -> None:
    wrong_order = np.concatenate([sines([1370.6], [-14], 0.274), sines([913.8], [-14], 0.274)])
    assert detect_progress(on_line(wrong_order)) == []


def test_tone_below_the_level_floor_is_ignored() -> None:
    floor = ProgressConfig().min_level_dbm0
    quiet = cadence([440, 480], floor - 4, [2.0, 4.0], 3.0)
    assert detect_progress(on_line(quiet, snr_db=None)) == []
    audible = cadence([440, 480], floor + 4, [2.0, 4.0], 3.0)
    assert [s.tone for s in detect_progress(on_line(audible, snr_db=None))] == ["ringback"]


def test_ringback_then_busy_are_two_spans() -> None:
    signal = np.concatenate([cadence([440, 480], -19, [2.0, 4.0], 6.0), cadence([480, 620], -24, [0.5, 0.5], 2.0)])
    assert [s.tone for s in detect_progress(on_line(signal))] == ["ringback", "busy"]


@pytest.mark.parametrize("step_db", [4.0, 8.0])
def test_a_chord_on_dial_tone_frequencies_that_changes_level_is_not_dial_tone(step_db: float) -> None:
    t = np.arange(round(1.5 * SAMPLE_RATE)) / SAMPLE_RATE
    accents = np.where((t // 0.1) % 2 == 0, 1.0, 10 ** (-step_db / 20))  # a chord struck every 100 ms
    chord = sines([349.2, 440.0], [-15, -15], 1.5) * accents
    assert detect_progress(on_line(chord)) == []
    gentle = sines([350.0, 440.0], [-15, -15], 1.5) * np.where((t // 0.1) % 2 == 0, 1.0, 10 ** (-2 / 20))
    assert [s.tone for s in detect_progress(on_line(gentle))] == ["dial"]  # 2 dB wander is still dial tone


def test_streaming_in_odd_chunks_matches_batch_on_tones_and_music() -> None:
    music = read_wav(need(MOH) / "reno_project-system.wav")[: 8000 * 20].astype(float)
    tones = [make() for make, _, _ in TONES.values()]
    signal = on_line(np.concatenate([music] + [np.concatenate([t, np.zeros(8000 * 5)]) for t in tones]))
    batch = [(s.tone, s.start_s, s.end_s) for s in detect_progress(signal)]
    assert [t for t, *_ in batch] == list(TONES)
    for chunk in (FRAME_SAMPLES, 77, 4000):
        detector, events = ProgressDetector(), []
        for i in range(0, len(signal), chunk):
            events += detector.feed(signal[i : i + chunk], i / SAMPLE_RATE)
        events += detector.finish()
        starts = [e for e in events if e.kind == "start"]
        ends = [e for e in events if e.kind == "end"]
        streamed = [(s.tone, s.at, e.at) for s, e in zip(starts, ends, strict=True)]
        assert [t for t, *_ in streamed] == [t for t, *_ in batch]
        assert np.allclose([v for _, *ts in streamed for v in ts], [v for _, *ts in batch for v in ts])


@pytest.mark.parametrize(
    "burst_s,expected", [(0.10, "recall_dial"), (0.08, "recall_dial"), (0.05, "dial"), (0.16, "dial")]
)
def test_recall_dial_needs_stutter_bursts_of_about_100_ms(burst_s: float, expected: str) -> None:
    bursts = cadence([350, 440], -13, [burst_s, burst_s], 6 * burst_s)
    signal = np.concatenate([bursts, sines([350, 440], [-13, -13], 1.0)])
    assert [s.tone for s in detect_progress(on_line(signal))][:1] == [expected]


def _off(freqs: list[float], error: float) -> list[float]:
    return [f * (1 + error) for f in freqs]


def _sit_variant(first_hz: float, second_hz: float, error: float) -> np.ndarray:
    return np.concatenate(
        [
            sines(_off([first_hz], error), [-20], 0.274),
            sines(_off([second_hz], error), [-20], 0.274),
            sines(_off([1776.7], error), [-20], 0.380),
        ]
    )


@pytest.mark.parametrize("error", [-0.02, -0.0175, -0.01, 0.01, 0.0175, 0.02])
def test_every_tone_within_2_percent_is_named_by_its_cadence(error: float) -> None:
    """Real tones drift: at any error up to 2 % each tone keeps its name, busy stays busy and reorder reorder."""
    tones = {
        "dial": sines(_off([350, 440], error), [-13, -13], 3.0),
        "ringback": cadence(_off([440, 480], error), -19, [2.0, 4.0], 12.0),
        "busy": cadence(_off([480, 620], error), -24, [0.5, 0.5], 4.0),
        "reorder": cadence(_off([480, 620], error), -24, [0.25, 0.25], 3.0),
        "call_waiting": sines(_off([440], error), [-13], 0.3),
        "sit": _sit_variant(913.8, 1370.6, error),
    }
    for name, tone in tones.items():
        signal = np.concatenate([np.zeros(2000), tone, np.zeros(8000)])
        assert [s.tone for s in detect_progress(to_int16(signal))] == [name], (name, error)


@pytest.mark.parametrize(
    ("first_hz", "second_hz"), [(913.8, 1370.6), (985.2, 1428.5), (913.8, 1428.5), (985.2, 1370.6)]
)
def test_sit_low_and_high_segment_variants(first_hz: float, second_hz: float) -> None:
    for error in (-0.015, 0.0, 0.015):
        signal = np.concatenate([np.zeros(2000), _sit_variant(first_hz, second_hz, error), np.zeros(8000)])
        assert [s.tone for s in detect_progress(to_int16(signal))] == ["sit"], (first_hz, second_hz, error)


def test_a_short_chord_on_ringback_frequencies_is_not_ringback() -> None:
    """Music holds a chord near 440+480 Hz (1 % apart from nominal) for a quarter second; ringback stays on 2 s."""
    chord = sines([440.0, 480.0 * 1.01], [-20, -20], 0.3)
    assert detect_progress(on_line(chord)) == []
    assert [s.tone for s in detect_progress(on_line(sines([440.0, 480.0 * 1.01], [-20, -20], 2.0)))] == ["ringback"]
