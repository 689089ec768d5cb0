"""The handset's audio: 8 kHz mono int16 frames of 20 ms, captured from the mouthpiece and played to the ear.

Every backend speaks this one frame format; a real sound card runs at its own rate and the backend resamples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import numpy as np

from hal.events import Event

SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000


@dataclass(frozen=True, eq=False)
class AudioFrame(Event):
    """One 20 ms frame of 8 kHz int16 audio; `source` names the stream (e.g. "mic", "line")."""

    source: str
    samples: np.ndarray = field(repr=False)
    kind: ClassVar[str] = "audio_frame"
    loggable: ClassVar[bool] = False


def check_frame(samples: np.ndarray) -> np.ndarray:
    """Reject anything that is not one frame, so a wrong buffer fails where it is made, not in a speaker."""
    if samples.dtype != np.int16 or samples.shape != (FRAME_SAMPLES,):
        raise ValueError(
            f"an audio frame is {FRAME_SAMPLES} int16 samples (20 ms at 8 kHz), got {samples.dtype} {samples.shape}"
        )
    return samples


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Samples in int16 units (float or wider ints) to int16: rounded to the nearest step, clipped at full scale
    rather than wrapped, so an overload is heard as clipping, not as a click of the opposite sign."""
    return np.clip(np.round(samples), -32768, 32767).astype(np.int16)


FrameSink = Callable[[AudioFrame], None]


class AudioPort(Protocol):
    """Captured frames go to the sink given at start; `play` queues one frame for the earpiece."""

    def start(self, sink: Callable[[Event], None]) -> None: ...

    def play(self, samples: np.ndarray) -> None: ...

    def close(self) -> None: ...


class SimAudioPort:
    """In memory: frames played are kept with their times so they can be written out as a WAV file."""

    def __init__(self, clock_now: Callable[[], float]) -> None:
        self._now = clock_now
        self._sink: Callable[[Event], None] | None = None
        self.played: list[tuple[float, np.ndarray]] = []

    def start(self, sink: Callable[[Event], None]) -> None:
        self._sink = sink

    def speak(self, samples: np.ndarray) -> None:
        """The simulator talks into the mouthpiece: whole frames go to the sink, stamped now."""
        if self._sink is None:
            raise RuntimeError("audio port used before start()")
        usable = len(samples) - len(samples) % FRAME_SAMPLES
        for i in range(0, usable, FRAME_SAMPLES):
            frame = np.asarray(samples[i : i + FRAME_SAMPLES], dtype=np.int16)
            self._sink(AudioFrame(self._now() + i / SAMPLE_RATE, "mic", frame))

    def play(self, samples: np.ndarray) -> None:
        self.played.append((self._now(), check_frame(samples).copy()))

    def timeline(self) -> np.ndarray:
        """Everything played, placed at the times it was played, silence between."""
        if not self.played:
            return np.zeros(0, dtype=np.int16)
        start = self.played[0][0]
        end = max(round((t - start) * SAMPLE_RATE) + FRAME_SAMPLES for t, _ in self.played)
        out = np.zeros(end, dtype=np.int16)
        for t, frame in self.played:
            i = round((t - start) * SAMPLE_RATE)
            out[i : i + FRAME_SAMPLES] = frame
        return out

    def close(self) -> None:
        self._sink = None
