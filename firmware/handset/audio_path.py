"""The handset's two audio legs: prompts queued for the ear and the line, mixed with the call, frame by frame.

The audio device's tick (one mouthpiece frame in) clocks one frame out to the ear and one to the line, so
prompts and the periodic announcement are heard exactly as mixed, by both parties. Pure: no device, no clock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from firmware.dsp.mix import at_level
from firmware.prompts.catalog import Catalog
from hal.audio import FRAME_SAMPLES, SAMPLE_RATE, to_int16

TARGETS = ("ear", "line")


@dataclass(frozen=True)
class Tick:
    """What one tick sends: to the earpiece and down the line (None: nothing), and the far frame it used."""

    ear: np.ndarray | None
    line: np.ndarray | None
    far: np.ndarray | None


class AudioPath:
    def __init__(self, catalog: Catalog, prompt_level_dbm0: float) -> None:
        self.catalog = catalog
        self.prompt_level_dbm0 = prompt_level_dbm0
        self._queues: dict[str, deque[np.ndarray]] = {target: deque() for target in TARGETS}
        self._busy_until = dict.fromkeys(TARGETS, 0.0)
        self._far: deque[np.ndarray] = deque(maxlen=4)
        self._levels: dict[tuple[str, str], np.ndarray] = {}

    def prompt(self, prompt_id: str, language: str) -> np.ndarray:
        """A prompt's audio at the configured level, so a prompt over a conversation is heard and not shouted."""
        key = (prompt_id, language)
        if key not in self._levels:
            samples = at_level(self.catalog.audio(prompt_id, language), self.prompt_level_dbm0)
            self._levels[key] = to_int16(samples)
        return self._levels[key]

    def queue(self, samples: np.ndarray, target: str, now: float) -> None:
        start = max(now, self._busy_until[target])
        self._busy_until[target] = start + len(samples) / SAMPLE_RATE
        pad = (-len(samples)) % FRAME_SAMPLES
        padded = np.concatenate([samples, np.zeros(pad, dtype=np.int16)]) if pad else samples
        self._queues[target].extend(padded[i : i + FRAME_SAMPLES] for i in range(0, len(padded), FRAME_SAMPLES))

    def quiet(self, target: str, now: float) -> None:
        """Stop what is queued for `target` (barge-in, or the line released)."""
        self._queues[target].clear()
        self._busy_until[target] = now

    def reset(self, now: float) -> None:
        for target in TARGETS:
            self.quiet(target, now)
        self._far.clear()

    def speech_ends(self, target: str, now: float) -> float:
        """When what is queued for `target` will have been played."""
        return max(now, self._busy_until[target])

    def far_frame(self, samples: np.ndarray) -> None:
        self._far.append(samples)

    def tick(self, mic: np.ndarray, hear_far: bool, line_open: bool, bridged: bool) -> Tick:
        far = self._far.popleft() if self._far else None
        ear = _next(self._queues["ear"])
        if far is not None and hear_far:
            ear = _mix(ear, far)
        line = None
        if line_open:
            line = _next(self._queues["line"])
            if bridged:
                line = _mix(line, mic)
            if line is None:
                line = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        return Tick(ear, line, far)


def _next(queue: deque[np.ndarray]) -> np.ndarray | None:
    return queue.popleft() if queue else None


def _mix(a: np.ndarray | None, b: np.ndarray) -> np.ndarray:
    if a is None:
        return b
    return to_int16(a.astype(np.float64) + b.astype(np.float64))
