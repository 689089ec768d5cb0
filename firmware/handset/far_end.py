"""What the call flow hears on the line: far-end keys, call progress, three-way attempts, answering machines.

The detectors are pure numpy objects from firmware/dsp, fed the line's 20 ms frames; the flow only sees
their events. They are built per call through a factory so tests can hand the flow simpler ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from firmware.dsp.levels import dbm0


class Detector(Protocol):
    def feed(self, samples: np.ndarray, at: float) -> Sequence[Any]: ...


@dataclass
class Detectors:
    """One call's detectors: DTMF on each leg (events with kind/digit) and three-way on the far leg.

    DTMF in the mouthpiece during a call means a tone dialer held to the handset (to work a far-end menu or
    call forwarding around the keypad): it is reported, like pulse dialing.
    """

    dtmf: Detector
    threeway: Detector
    mouthpiece_dtmf: Detector
    #: Call-progress tones (events with kind/tone), for networks that do not signal busy or SIT.
    progress: Detector


DetectorFactory = Callable[[], Detectors]


def dsp_detectors() -> Detectors:
    """The firmware's own detectors (firmware/dsp)."""
    from firmware.dsp.dtmf import DtmfReceiver
    from firmware.dsp.progress import ProgressDetector
    from firmware.dsp.threeway import ThreeWayDetector

    return Detectors(dtmf=DtmfReceiver(), threeway=ThreeWayDetector(), mouthpiece_dtmf=DtmfReceiver(),
                     progress=ProgressDetector())


class SpeechRun:
    """How long the far end has talked without a pause: an answering machine's greeting runs on, a person's
    "hello?" stops and waits."""

    def __init__(self, level_dbm0: float, pause_s: float) -> None:
        self.level_dbm0 = level_dbm0
        self.pause_s = pause_s
        self._started: float | None = None
        self._last_voice: float | None = None

    def feed(self, samples: np.ndarray, at: float) -> float:
        """Seconds of speech without a pause as of this frame."""
        if dbm0(samples) >= self.level_dbm0:
            if self._started is None or (self._last_voice is not None and at - self._last_voice > self.pause_s):
                self._started = at
            self._last_voice = at
        elif self._last_voice is not None and at - self._last_voice > self.pause_s:
            self._started = None
        return 0.0 if self._started is None or self._last_voice is None else self._last_voice - self._started
