"""A simulated handset whose mouthpiece hears its earpiece: every played frame comes back as a mic frame.

The technician's audio test puts the handset in exactly this position (earpiece to mouthpiece); `loss_db`
stands for the acoustic path.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from hal.audio import AudioFrame, SimAudioPort, check_frame, to_int16


class LoopbackAudioPort(SimAudioPort):
    def __init__(self, clock_now: Callable[[], float], loss_db: float = 0.0) -> None:
        super().__init__(clock_now)
        self.gain = 10 ** (-loss_db / 20)

    def play(self, samples: np.ndarray) -> None:
        super().play(samples)
        if self._sink is not None:
            back = to_int16(check_frame(samples) * self.gain)
            self._sink(AudioFrame(self._now(), "mic", back))
