"""What a session sounds like: through a real PortAudio stream to the PulseAudio null sink, and as a WAV."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from sim.play.cli import DEFAULT_WORLD
from sim.play.session import HandsetSession
from sim.play.speaker import Speaker
from sim.scenario import load
from tests.paths import ROOT
from tests.waiting import wait_for


def _lifted(tmp_path: Path) -> HandsetSession:
    session = HandsetSession(load(DEFAULT_WORLD["handset"]), tmp_path / "device")
    session.toggle_hook()
    return session


@pytest.mark.hardware
def test_the_greeting_goes_to_the_sound_card_at_real_pace_and_not_when_sped_up(tmp_path: Path) -> None:
    started = subprocess.run(
        [str(ROOT / "scripts/start-audio")], capture_output=True, text=True, timeout=60, check=False
    )
    if started.returncode != 0:
        pytest.fail(f"PulseAudio null sink did not start: {started.stderr.strip()}")
    session = _lifted(tmp_path)
    speaker = Speaker()
    try:
        assert speaker.playing, speaker.muted_because
        session.advance(0.6)
        speaker.feed(session.audio.played, session.network.sent, real_time=False)  # sped up: nothing queued
        time.sleep(0.3)
        assert speaker.sent_peak == 0
        for _ in range(10):  # one second of the greeting at its real pace: the card's, however late this thread runs
            session.advance(0.1)
            speaker.feed(session.audio.played, session.network.sent, real_time=True)
            wait_for(lambda: speaker.queued_s <= 0.2, 10.0, "the card stopped taking the greeting")
        wait_for(lambda: speaker.sent_samples >= 0.9 * 8000, 10.0, "less than 0.9 s of the greeting reached the card")
        assert speaker.sent_peak > 1000, "the greeting was heard, not silence"
    finally:
        speaker.close()
        session.close()


def test_a_muted_speaker_says_why() -> None:
    speaker = Speaker(enabled=False)
    assert not speaker.playing and speaker.muted_because == "muted (--mute)"


def test_what_was_heard_is_saved_as_a_stereo_wav(tmp_path: Path) -> None:
    session = _lifted(tmp_path)
    try:
        session.advance(3)
        path = session.write_wav(tmp_path / "heard.wav")
    finally:
        session.close()
    samples, rate = soundfile.read(path, dtype="int16", always_2d=True)
    assert (samples.shape[1], rate) == (2, 8000)
    assert len(samples) >= 3 * 8000
    assert np.abs(samples[:, 0]).max() > 1000, "the inmate's ear heard the greeting"
    assert np.abs(samples[:, 1]).max() == 0, "nothing went down the line: no call"
