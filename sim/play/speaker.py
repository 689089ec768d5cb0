"""Hearing a session: the inmate's ear on the left, the called party's on the right, through the sound card.

Frames are taken from the simulated audio port and line as the virtual clock makes them, and played only while
time runs at its real pace (sped up or skipped, they would be noise); without a sound card the speaker is muted
and says why once.
"""

from __future__ import annotations

import collections
import threading
from typing import Any

import numpy as np

from hal.audio import FRAME_MS, SAMPLE_RATE
from sim.network import timeline

#: At most this much sound waits for the card; anything older is dropped, so the ear never lags the screen.
MAX_BACKLOG_S = 0.5


class Speaker:
    def __init__(self, enabled: bool = True) -> None:
        self.muted_because = "" if enabled else "muted (--mute)"
        self._stream: Any = None
        self._buffer: collections.deque[np.ndarray] = collections.deque()
        self._lock = threading.Lock()
        self._cursor: dict[int, int] = {}
        self._heard_to = 0.0
        #: Samples handed to the card and the loudest of them, so a listener (or a test) knows sound went out.
        self.sent_samples = 0
        self.sent_peak = 0
        if enabled:
            self._open()

    def _open(self) -> None:
        try:
            import sounddevice as sd
        except OSError as exc:  # the PortAudio library itself is missing
            self.muted_because = f"muted (no PortAudio: {exc})"
            return
        try:
            sd.query_devices(kind="output")
            self._stream = sd.OutputStream(
                samplerate=SAMPLE_RATE, channels=2, dtype="int16", callback=self._fill, latency="low"
            )
            self._stream.start()
        except (sd.PortAudioError, ValueError) as exc:  # no output device, or none that takes 8 kHz stereo
            self._stream = None
            self.muted_because = f"muted (no sound card: {str(exc).splitlines()[0]})"

    @property
    def playing(self) -> bool:
        return self._stream is not None

    @property
    def queued_s(self) -> float:
        """Seconds of sound waiting for the card."""
        with self._lock:
            return sum(len(c) for c in self._buffer) / SAMPLE_RATE

    def _fill(self, out: np.ndarray, frames: int, _time: Any, _status: Any) -> None:
        out.fill(0)
        filled = 0
        with self._lock:
            while filled < frames and self._buffer:
                chunk = self._buffer[0]
                take = min(frames - filled, len(chunk))
                out[filled : filled + take] = chunk[:take]
                self.sent_peak = max(self.sent_peak, int(np.abs(chunk[:take]).max(initial=0)))
                filled += take
                if take == len(chunk):
                    self._buffer.popleft()
                else:
                    self._buffer[0] = chunk[take:]
            self.sent_samples += filled

    def _new_frames(self, frames: list[tuple[float, np.ndarray]]) -> list[tuple[float, np.ndarray]]:
        start = self._cursor.get(id(frames), 0)
        self._cursor[id(frames)] = len(frames)
        return frames[start:]

    def feed(self, ear: list[tuple[float, np.ndarray]], far: list[tuple[float, np.ndarray]], real_time: bool) -> None:
        """Queue what both legs played since the last call; at any pace but real time, only catch up silently."""
        new_ear, new_far = self._new_frames(ear), self._new_frames(far)
        if not new_ear and not new_far:
            return
        # Windows end on the 20 ms frame grid, so consecutive chunks join without gaps or overlaps.
        start = self._heard_to
        end = self._heard_to = max(t for t, _ in (*new_ear, *new_far)) + FRAME_MS / 1000
        if not self.playing or not real_time or end <= start:
            return
        n = round((end - start) * SAMPLE_RATE)
        chunk = np.stack([timeline(new_ear, start, end)[:n], timeline(new_far, start, end)[:n]], axis=1)
        with self._lock:
            self._buffer.append(chunk)
            while sum(len(c) for c in self._buffer) > MAX_BACKLOG_S * SAMPLE_RATE and len(self._buffer) > 1:
                self._buffer.popleft()

    def close(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None
