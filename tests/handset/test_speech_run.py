"""The answering-machine test's ear: far-end speech that runs on without a pause, never the echo of what the
handset itself sends down the line, and never silence."""

from __future__ import annotations

import numpy as np
import pytest

from firmware.dsp.levels import rms_for_dbm0
from firmware.handset.far_end import SpeechRun
from firmware.handset.policy import PolicyError, load_timing
from hal.audio import FRAME_SAMPLES, SAMPLE_RATE

FRAME_S = FRAME_SAMPLES / SAMPLE_RATE
TIMING = load_timing()


def tone(level_dbm0: float) -> np.ndarray:
    t = np.arange(FRAME_SAMPLES) / SAMPLE_RATE
    return (np.sqrt(2) * rms_for_dbm0(level_dbm0) * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)


def run() -> SpeechRun:
    return SpeechRun(TIMING.speech_level_dbm0, TIMING.speech_pause_s, TIMING.echo_return_loss_db, TIMING.echo_path_s)


def talk(
    speech: SpeechRun, seconds: float, heard_dbm0: float, sent_dbm0: float | None = None, start: float = 0.0
) -> float:
    """Frames heard for `seconds` (and sent at the same time, if `sent_dbm0`); the last talking time."""
    talking = 0.0
    for i in range(round(seconds / FRAME_S)):
        at = start + i * FRAME_S
        if sent_dbm0 is not None:
            speech.sent(tone(sent_dbm0), at)
        talking = speech.feed(tone(heard_dbm0), at)
    return talking


def test_a_greeting_with_no_announcement_playing_runs_past_the_machine_limit() -> None:
    assert talk(run(), TIMING.machine_speech_s + 0.5, -25.0) >= TIMING.machine_speech_s


def test_silence_after_answer_is_never_speech() -> None:
    assert talk(run(), 30.0, -70.0) == 0.0


def test_the_announcement_echo_is_not_speech_however_long_it_plays() -> None:
    loss = TIMING.echo_return_loss_db
    assert talk(run(), 30.0, -16.0 - loss - 0.2, sent_dbm0=-16.0) == 0.0


def test_far_end_speech_louder_than_the_echo_counts_while_the_announcement_plays() -> None:
    loss = TIMING.echo_return_loss_db
    assert talk(run(), TIMING.machine_speech_s + 0.5, -16.0 - loss + 0.2, sent_dbm0=-16.0) >= TIMING.machine_speech_s


def test_an_echo_comes_back_only_within_the_echo_path() -> None:
    """A loud frame sent just inside echo_path_s still masks; once it is older, quieter far-end speech counts."""
    speech = run()
    speech.sent(tone(-10.0), 0.0)
    assert speech.feed(tone(-25.0), TIMING.echo_path_s - 0.001) == 0.0
    speech.feed(tone(-25.0), TIMING.echo_path_s + 0.001)
    assert speech.feed(tone(-25.0), TIMING.echo_path_s + 0.5) == pytest.approx(0.499)


def test_a_short_hello_then_listening_never_reaches_the_machine_limit() -> None:
    speech = run()
    talk(speech, 0.6, -20.0, sent_dbm0=-16.0 - 30)
    assert talk(speech, 30.0, -16.0 - 24.0, sent_dbm0=-16.0, start=0.6) == 0.0


@pytest.mark.parametrize(("key", "value"), [("echo_return_loss_db", -1), ("echo_path_s", 0)])
def test_echo_settings_out_of_range_are_named(key: str, value: float) -> None:
    with pytest.raises(PolicyError, match=key):
        load_timing(overrides={key: value})
