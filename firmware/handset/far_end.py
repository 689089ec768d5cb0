"""What the call flow hears on the line: far-end keys, call progress, three-way attempts, answering machines.

The detectors are pure numpy objects from firmware/dsp, fed the line's 20 ms frames; the flow only sees
their events. They are built per call through a factory so tests can hand the flow simpler ones.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from firmware.dsp.levels import dbm0
from hal.audio import FRAME_SAMPLES


class Detector(Protocol):
    def feed(self, samples: np.ndarray, at: float) -> Sequence[Any]: ...


class ThreeWayListener(Detector, Protocol):
    def near_key(self, at: float) -> None:
        """A key the inmate sent (heard in the mouthpiece): its echo on the line is no far party dialling."""


@dataclass
class Detectors:
    """One call's detectors: DTMF on each leg (events with kind/digit) and three-way on the far leg.

    DTMF in the mouthpiece during a call means a tone dialer held to the handset (to work a far-end menu or
    call forwarding around the keypad): it is reported, like pulse dialing.
    """

    dtmf: Detector
    threeway: ThreeWayListener
    mouthpiece_dtmf: Detector
    #: Call-progress tones (events with kind/tone), for networks that do not signal busy or SIT.
    progress: Detector


DetectorFactory = Callable[[], Detectors]


def dsp_detectors() -> Detectors:
    """The firmware's own detectors (firmware/dsp)."""
    from firmware.dsp.dtmf import DtmfReceiver
    from firmware.dsp.progress import ProgressDetector
    from firmware.dsp.threeway import ThreeWayDetector

    return Detectors(
        dtmf=DtmfReceiver(), threeway=ThreeWayDetector(), mouthpiece_dtmf=DtmfReceiver(), progress=ProgressDetector()
    )


class SpeechRun:
    """How long the far end has talked without a pause: an answering machine's greeting runs on, a person's
    "hello?" stops and waits, and a person listening in silence never talks at all.

    What the line brings back includes the hybrid's echo of what the device sends (the called-party announcement
    itself). As a double-talk detector does (Geigel), a frame counts as the far end's voice only when it is louder
    than the loudest frame sent within `echo_path_s` less `echo_return_loss_db`, so the announcement's own echo
    is never taken for a machine's greeting.
    """

    def __init__(self, level_dbm0: float, pause_s: float, echo_return_loss_db: float, echo_path_s: float) -> None:
        self.level_dbm0 = level_dbm0
        self.pause_s = pause_s
        self.echo_return_loss_db = echo_return_loss_db
        self.echo_path_s = echo_path_s
        self._started: float | None = None
        self._last_voice: float | None = None
        self._sent: deque[tuple[float, float]] = deque()

    def sent(self, samples: np.ndarray, at: float) -> None:
        """A frame the device sent down the line at `at`: its echo may come back within `echo_path_s`."""
        self._sent.append((at, dbm0(samples)))

    def _echo_level(self, at: float) -> float:
        while self._sent and self._sent[0][0] < at - self.echo_path_s:
            self._sent.popleft()
        return max((level for _, level in self._sent), default=float("-inf")) - self.echo_return_loss_db

    def feed(self, samples: np.ndarray, at: float) -> float:
        """Seconds of speech without a pause as of this frame."""
        level = dbm0(samples)
        if level >= self.level_dbm0 and level > self._echo_level(at):
            if self._started is None or (self._last_voice is not None and at - self._last_voice > self.pause_s):
                self._started = at
            self._last_voice = at
        elif self._last_voice is not None and at - self._last_voice > self.pause_s:
            self._started = None
        return 0.0 if self._started is None or self._last_voice is None else self._last_voice - self._started


#: A held line whose far end has sent no frame for this long is silent (two frames: a late one is not a gap).
HELD_SILENCE_AFTER_S = 0.04
#: A far end that has sent no frame for this long, unheld, has stopped sending: RFC 3551 lets a sender fall silent in
#: its pauses without comfort noise, and the line's playout buffer conceals only the first 120 ms of a gap.
SENDER_STOPPED_AFTER_S = 0.2
#: A telephone-event this soon after the in-band detector heard the same key reports the same press (the event's
#: packets leave at the key's onset, the detector needs 40 ms of tone and the jitter buffer delays the audio).
SAME_PRESS_S = 0.5


class OpenLine:
    """The line from the dial to its release: the call's detectors, the tone last heard in the mouthpiece (digit,
    until when its echo may come back) to tell the near end's echo from a far-end key, and which way the far end
    sends its keys.

    A far end that sends RFC 4733 telephone-events may also leave the key's tone in its audio (a gateway that does
    not strip it): one press must not count twice, or a called party's single 9 would confirm a block. So once a
    key has come out of band, keys are taken only out of band for the rest of the call (as a SIP endpoint set to
    RFC 4733 does), and a telephone-event that repeats the key the in-band detector heard just before is the same
    press.
    """

    def __init__(self, detectors: Detectors, echo_hold_s: float) -> None:
        self.detectors = detectors
        self.echo_hold_s = echo_hold_s
        self._near_tone: tuple[str, float] | None = None
        self._out_of_band = False
        self._last_in_band: tuple[str, float] | None = None
        self._held_since: float | None = None  # the far end signalled a hold (SIP re-INVITE) at this time
        self._far_at: float | None = None  # the last far-end frame
        self._stopped_at: float | None = None  # the last frame before an unsignalled stop the detector hears

    def near_tones(self, samples: np.ndarray, at: float) -> list[str]:
        """The digits a tone dialer held to the mouthpiece started in this frame."""
        started = []
        for tone in self.detectors.mouthpiece_dtmf.feed(samples, at):
            self.detectors.threeway.near_key(at)
            if tone.kind == "start":
                self._near_tone = (tone.digit, float("inf"))
                started.append(tone.digit)
            elif self._near_tone is not None:
                self._near_tone = (self._near_tone[0], at + self.echo_hold_s)
        return started

    def is_echo(self, digit: str, at: float) -> bool:
        """A far-end key that is the near end's own tone coming back through the line's hybrid."""
        return self._near_tone is not None and self._near_tone[0] == digit and at <= self._near_tone[1]

    def hold_changed(self, held: bool, at: float) -> float | None:
        """The far end signalled a hold, or its end: how long the hold lasted, when it ends."""
        since, self._held_since = self._held_since, (at if held else None)
        return None if held or since is None else at - since

    def far_heard(self, at: float) -> float | None:
        """A far-end frame at `at`. If it ends a stop the detector heard as silence (no frame for
        SENDER_STOPPED_AFTER_S, no hold signalled), how long the far end sent nothing, for the call's review."""
        stopped, self._stopped_at, self._far_at = self._stopped_at, None, at
        return None if stopped is None else at - stopped

    def far_silence(self, at: float) -> np.ndarray | None:
        """A frame of digital silence for the three-way detector while the far end sends no audio: a signalled hold
        (SIP `inactive`), or a far end that stopped sending without one (a hold that sends nothing, silence
        suppression without comfort noise, a network gone quiet). The inmate hears silence then; the detector
        hears the same, what such a line sounds like on any other trunk, instead of nothing at all. None while
        the far end's frames still come, and before its first. An unsignalled stop is remembered: `far_heard`
        tells how long it lasted when the frames come back."""
        if self._held_since is not None:
            after = HELD_SILENCE_AFTER_S
        elif self._far_at is not None:
            after = SENDER_STOPPED_AFTER_S
        else:
            return None
        if self._far_at is not None and at - self._far_at < after:
            return None
        if self._held_since is None:
            self._stopped_at = self._far_at
        return np.zeros(FRAME_SAMPLES, dtype=np.int16)

    def in_band_key(self, digit: str, at: float) -> bool:
        """A key the DTMF detector heard on the line: a press of the far end's, unless it is an echo or the far end
        sends its keys out of band."""
        if self._out_of_band or self.is_echo(digit, at):
            return False
        self._last_in_band = (digit, at)
        return True

    def out_of_band_key(self, digit: str, at: float) -> bool:
        """An RFC 4733 key: a press of the far end's, unless the in-band detector already reported this press."""
        self._out_of_band = True
        heard = self._last_in_band
        if heard is not None and heard[0] == digit and 0.0 <= at - heard[1] <= SAME_PRESS_S:
            self._last_in_band = None  # matched once: a second press of the same key is a press
            return False
        return not self.is_echo(digit, at)
