"""Talk-off: no false keys and no false call-progress tones on real speech and music.

A fast fixed subset runs always (it includes the prompts that came closest to fooling the receiver); the whole of
Debian's English and Spanish Asterisk prompts plus its music-on-hold runs as a slow test.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from firmware.dsp.dtmf import detect
from firmware.dsp.progress import detect_progress
from hal.audio import to_int16
from hal.audio_file import read_wav
from sim.channel import telephone
from sim.sounds import MOH, sound_dir
from tests.dsp.conftest import need, sound_file
from tests.installed import need_program

HARD_PROMPTS = [
    "en/vm-rec-name.wav",
    "es/conf-usermenu.wav",
    "es/dictate/truncating_audio.wav",
    "es/phonetic/c_p.wav",
    "es/priv-callee-options.wav",
    "es/queue-periodic-announce.wav",
    "en/vm-intro.wav",
    "en/conf-errormenu.wav",
    "es/vm-intro.wav",
    "en/agent-loginok.wav",
]


def corpus() -> list[Path]:
    files = [p for lang in ("en", "es") for p in sorted(need(sound_dir(lang)).rglob("*.wav"))]
    return files + sorted(need(MOH).rglob("*.wav"))


def test_no_false_keys_or_tones_on_the_hardest_prompts() -> None:
    for name in HARD_PROMPTS:
        samples = read_wav(sound_file(name))
        assert detect(samples) == [], name
        assert detect_progress(samples) == [], name


def test_no_false_keys_on_prompts_through_a_noisy_line() -> None:
    rng = np.random.default_rng(11)
    for name in HARD_PROMPTS:
        line = telephone(read_wav(sound_file(name)), rng, snr_db=25)
        assert detect(to_int16(line)) == [], name


@pytest.mark.parametrize("track", ["macroform-robot_dity.wav", "reno_project-system.wav"])
def test_no_false_keys_or_tones_on_music_on_hold(track: str) -> None:
    """These tracks hold a lone 440 Hz note and a 349+440 Hz chord: call waiting and dial tone look-alikes."""
    samples = read_wav(need(MOH) / track)[: 8000 * 60]
    line = to_int16(telephone(samples, np.random.default_rng(4), snr_db=30))
    for signal in (samples, line):
        assert detect(signal) == []
        assert detect_progress(signal) == []


def test_no_false_keys_on_generated_speech(tmp_path: Path) -> None:
    espeak = need_program("espeak-ng", "espeak-ng")
    text = "Press one to accept this call. Oprima el nueve para bloquear llamadas de esta institución. " * 4
    for voice in ("en-us+f3", "es-419+m3"):
        wav = tmp_path / f"{voice}.wav"
        subprocess.run([espeak, "-v", voice, "-w", str(wav), text], check=True)
        samples = read_wav(wav)
        assert len(samples) > 8000 * 10
        assert detect(samples) == [], voice
        assert detect_progress(samples) == [], voice


@pytest.mark.slow
def test_no_false_keys_on_all_prompts_and_music_on_hold() -> None:
    false = {str(p): found for p in corpus() if (found := detect(read_wav(p)))}
    assert false == {}


@pytest.mark.slow
def test_no_false_tones_on_all_prompts_and_music_on_hold() -> None:
    false = {str(p): found for p in corpus() if (found := detect_progress(read_wav(p)))}
    assert false == {}
