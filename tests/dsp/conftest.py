"""Shared fixtures for the signal-processing tests: real recorded prompts when the Debian packages are present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from firmware.dsp.mix import at_level
from firmware.dsp.wavio import read_wav

SOUNDS = Path("/usr/share/asterisk/sounds")
MOH = Path("/usr/share/asterisk/moh")


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is missing: install asterisk-core-sounds-en-wav, -es-wav and asterisk-moh-opsound-wav")
    return path


@pytest.fixture
def prompt() -> np.ndarray:
    """A real prompt at a typical playback level (-15 dBm0): what the called party hears from us."""
    return at_level(read_wav(need(SOUNDS / "en" / "vm-rec-name.wav")), -15.0)
