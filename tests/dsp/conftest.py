"""Shared fixtures for the signal-processing tests: real recorded prompts when the Debian packages are present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from firmware.dsp.mix import at_level
from hal.audio_file import read_wav
from sim.sounds import PACKAGES, sound_dir
from tests.installed import need_path


def need(path: Path) -> Path:
    return need_path(path, PACKAGES)


def sound_file(name: str) -> Path:
    """An Asterisk prompt named as `en/vm-intro.wav`, in whichever folder the installed package uses."""
    language, _, rest = name.partition("/")
    return need(sound_dir(language) / rest)


@pytest.fixture
def prompt() -> np.ndarray:
    """A real prompt at a typical playback level (-15 dBm0): what the called party hears from us."""
    return at_level(read_wav(sound_file("en/vm-rec-name.wav")), -15.0)
