"""The handset's audio on a real sound card through sounddevice (PortAudio), at the card's own rate.

One duplex stream runs at the device rate; python-soxr streaming resamplers convert 8 kHz <-> device rate
without clicks at chunk boundaries and without holding audio back (see _streaming_resampler). Captured audio is
cut into exact 20 ms frames stamped with the clock.
Played frames wait in a bounded queue so latency stays bounded: when the producer runs ahead, the oldest audio
is dropped (a playback overrun); when it falls behind in the middle of playback, the earpiece hears silence (a
playback underrun). Both, and the device's own xruns, are reported as AudioXrun events.

A PortAudio stream on ALSA can stop calling back after an xrun (seen with PulseAudio's ALSA plugin and with
unplugged USB cards) while still claiming to be active, which would leave a handset deaf and mute for the rest
of the call. A watchdog on the clock restarts a stream that has been silent for `stall_ms` and reports the gap.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from typing import Any

import numpy as np
import sounddevice as sd
import soxr

from hal.audio import FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE, AudioFrame, check_frame, to_int16
from hal.clock import Clock, TimerHandle
from hal.driver import EventSink
from hal.events import AudioXrun

FULL_SCALE = 32768.0
#: How far each captured frame's stamp moves toward its measured time (see _smooth).
_PULL = 0.05


class AudioDeviceError(RuntimeError):
    """The sound card cannot be opened as configured; the message names the device and the rate."""


def _device_id(device: str | None) -> int | str | None:
    """sounddevice takes an index or a name fragment; the configuration gives a string."""
    if device is None or device == "":
        return None
    return int(device) if device.isdigit() else device


def _streaming_resampler(in_rate: int, out_rate: int) -> soxr.ResampleStream:
    """A resampler that returns each chunk's worth of output at once, so audio leaves it as steadily as it enters.

    soxr's fixed-rate engine filters in large FFT blocks: fed 20 ms frames it returns nothing for about 150 ms,
    then 150 ms at once, in both directions. Microphone frames then reached the runtime in bursts of seven, and
    the earpiece queue, refilled only every 150 ms, ran dry between bursts (the audio path bench's 3 underrun
    frames and 163 ms earpiece gap on every path, the floor included). soxr's variable-rate engine (vr=True),
    at a fixed ratio, returns output for every chunk it is given, with passband flat to 3.8 kHz and the stopband
    more than 100 dB down: more than 16-bit telephone audio needs, for about 0.1 ms of CPU per 10 ms of duplex
    audio on this machine.
    """
    return soxr.ResampleStream(in_rate, out_rate, 1, dtype="float32", quality="HQ", vr=True)


class _SampleQueue:
    """Device-rate samples waiting for the earpiece, at most `capacity`; the oldest are dropped first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._chunks: deque[np.ndarray] = deque()
        self._offset = 0  # samples of the first chunk already played
        self.size = 0

    def push(self, chunk: np.ndarray) -> int:
        """Add samples; returns how many old ones were dropped to make room."""
        if chunk.size:
            self._chunks.append(chunk)
            self.size += chunk.size
        dropped = max(0, self.size - self.capacity)
        self._skip(dropped)
        return dropped

    def _skip(self, n: int) -> None:
        while n > 0:
            left = self._chunks[0].size - self._offset
            if n < left:
                self._offset += n
                self.size -= n
                return
            self._chunks.popleft()
            self._offset = 0
            self.size -= left
            n -= left

    def pull(self, n: int) -> np.ndarray:
        """Up to n samples, oldest first."""
        parts: list[np.ndarray] = []
        want = n
        while want > 0 and self._chunks:
            head = self._chunks[0]
            take = min(want, head.size - self._offset)
            parts.append(head[self._offset : self._offset + take])
            self._offset += take
            want -= take
            if self._offset == head.size:
                self._chunks.popleft()
                self._offset = 0
        got = n - want
        self.size -= got
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)

    def clear(self) -> None:
        self._chunks.clear()
        self._offset = 0
        self.size = 0


class SoundDeviceAudioPort:
    """AudioPort on a PortAudio device: 8 kHz frames in and out, the device at its own rate.

    `queue_ms` bounds the playback queue (and so the added latency). Playback starts once `prefill_ms` of audio
    (at least the stream's output latency plus one frame) is queued, or once the first queued audio has waited that
    long, so that a producer pacing frames every
    20 ms does not starve the card on ordinary jitter. A gap in the middle of playback is an underrun; a gap
    longer than `idle_ms` is the end of playback and is not reported.
    """

    def __init__(
        self,
        clock: Clock,
        device: str | None,
        samplerate: int,
        *,
        block_ms: float = 10.0,
        latency_s: float = 0.04,
        queue_ms: float = 200.0,
        prefill_ms: float = 40.0,
        idle_ms: float = 100.0,
        stall_ms: float = 250.0,
    ) -> None:
        if not 0 < prefill_ms <= queue_ms:
            raise ValueError(f"audio prefill_ms ({prefill_ms}) must be positive and at most queue_ms ({queue_ms})")
        self._clock = clock
        self.device = _device_id(device)
        where = f"audio device {device or '(system default)'}"
        try:
            if samplerate == 0:
                samplerate = int(sd.query_devices(self.device, "output")["default_samplerate"])
            sd.check_output_settings(self.device, channels=1, dtype="float32", samplerate=samplerate)
            sd.check_input_settings(self.device, channels=1, dtype="float32", samplerate=samplerate)
        except (sd.PortAudioError, ValueError) as exc:
            rate = f"{samplerate} Hz" if samplerate else "its default rate"
            raise AudioDeviceError(f"{where} at {rate}: {exc}") from None
        self._where = where
        self.samplerate = samplerate
        self._block = max(1, round(samplerate * block_ms / 1000))
        # PortAudio's "low" (20-30 ms) starves a duplex stream through ALSA's pulse plugin at 44.1 kHz; 40 ms
        # plays and records steadily and stays far inside the 150 ms one-way delay telephony tolerates (G.114).
        self._latency = latency_s
        self._device_frame = samplerate * FRAME_MS / 1000  # device samples in one 20 ms frame
        self._queue = _SampleQueue(round(samplerate * queue_ms / 1000))
        self._prefill_ms = prefill_ms
        self._prefill = round(samplerate * prefill_ms / 1000)
        self._prefill_s = prefill_ms / 1000
        self._idle = round(samplerate * idle_ms / 1000)
        self._lock = threading.Lock()
        self._up = _streaming_resampler(SAMPLE_RATE, samplerate)
        self._down = _streaming_resampler(samplerate, SAMPLE_RATE)
        self._captured = np.zeros(0, dtype=np.float32)  # 8 kHz samples not yet a whole frame
        self._next_frame_at: float | None = None  # where the next captured frame is expected to start
        self._playing = False
        self._waiting_since: float | None = None  # when the first audio of a new playback was queued
        self._dry = 0  # silent samples given to the earpiece since the queue ran out mid-playback
        self._expected_adc: float | None = None
        self._sink: EventSink | None = None
        self._stream: sd.Stream | None = None
        self._stall_s = stall_ms / 1000
        self._last_callback = 0.0
        self._watchdog: TimerHandle | None = None
        # Opening and shutting the PortAudio stream happen on the caller's thread (close) and on the clock's
        # (the watchdog): PortAudio must never see two of them at once, nor a reopen after close.
        self._stream_lock = threading.Lock()
        self._closed = False
        self.restarts = 0

    # -- AudioPort ------------------------------------------------------------------------------------------

    def start(self, sink: EventSink) -> None:
        self._sink = sink
        self._open()
        self._watchdog = self._clock.call_at(self._clock.now() + self._stall_s / 2, self._check_stall)

    def _open(self) -> None:
        self._last_callback = self._clock.now()
        try:
            self._stream = sd.Stream(
                samplerate=self.samplerate,
                blocksize=self._block,
                device=(self.device, self.device),
                channels=1,
                dtype="float32",
                latency=self._latency,
                callback=self._callback,
            )
            # The card pulls its whole output buffer at once when it starts: cover it, plus one frame of jitter.
            cover_s = max(self._prefill_ms / 1000, float(self._stream.latency[1]) + FRAME_MS / 1000)
            with self._lock:
                self._prefill_s = cover_s
                self._prefill = round(self.samplerate * cover_s)
            self._stream.start()
        except sd.PortAudioError as exc:
            raise AudioDeviceError(f"{self._where} at {self.samplerate} Hz: {exc}") from None

    def play(self, samples: np.ndarray) -> None:
        frame = check_frame(samples).astype(np.float32) / FULL_SCALE
        with self._lock:
            resampled = self._up.resample_chunk(frame)
            if not self._playing and self._waiting_since is None:
                self._waiting_since = self._clock.now()
            dropped = self._queue.push(resampled.astype(np.float32, copy=False))
        if dropped:
            self._emit(AudioXrun(self._clock.now(), "playback", self._frames(dropped), "overrun"))

    def close(self) -> None:
        with self._stream_lock:
            self._closed = True
            if self._watchdog is not None:
                self._watchdog.cancel()
            self._sink = None
            self._shut()
        with self._lock:
            self._queue.clear()

    def _shut(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.abort()  # stop() would wait for queued output, which a stalled device never plays
            stream.close()

    def _check_stall(self) -> None:
        with self._stream_lock:
            if not self._closed:
                self._restart_if_stalled()

    def _restart_if_stalled(self) -> None:
        now = self._clock.now()
        silent = now - self._last_callback
        if silent >= self._stall_s:
            self._shut()
            lost = self._frames(round(silent * self.samplerate))
            self._emit(AudioXrun(now, "capture", lost, "overrun"))
            if self._playing:
                self._emit(AudioXrun(now, "playback", lost, "underrun"))
            self._expected_adc = None
            self._next_frame_at = None
            self.restarts += 1
            try:
                self._open()
            except AudioDeviceError:
                self._last_callback = now  # the device is gone for now: try again after another stall period
        self._watchdog = self._clock.call_at(now + self._stall_s / 2, self._check_stall)

    # -- the PortAudio thread -------------------------------------------------------------------------------

    @property
    def latency(self) -> tuple[float, float]:
        """(input, output) latency of the open stream in seconds, as PortAudio reports it."""
        if self._stream is None:
            raise RuntimeError("audio port not started")
        capture, playback = self._stream.latency
        return float(capture), float(playback)

    def _frames(self, device_samples: int) -> int:
        return math.ceil(device_samples / self._device_frame)

    def _emit(self, event: Any) -> None:
        sink = self._sink
        if sink is not None:
            sink(event)

    def _callback(
        self, indata: np.ndarray, outdata: np.ndarray, frames: int, time: Any, status: sd.CallbackFlags
    ) -> None:
        now = self._clock.now()
        self._last_callback = now
        first = self._first_sample_time(now, frames, time)
        if status.input_overflow:
            lost = frames
            if self._expected_adc is not None and first > self._expected_adc:
                lost = max(lost, round((first - self._expected_adc) * self.samplerate))
            self._emit(AudioXrun(now, "capture", self._frames(lost), "overrun"))
        if status.output_underflow and self._playing:  # between playbacks the card was due silence anyway
            self._emit(AudioXrun(now, "playback", self._frames(frames), "underrun"))
        self._expected_adc = first + frames / self.samplerate
        self._fill(outdata, frames, now)
        self._capture(indata[:, 0], first + frames / self.samplerate)

    def _first_sample_time(self, now: float, frames: int, time: Any) -> float:
        """Clock time of the block's first captured sample, from PortAudio's ADC time when it gives one."""
        adc, current = time.inputBufferAdcTime, time.currentTime
        if adc > 0 and current > 0 and 0 <= current - adc < 1.0:
            return now - (current - adc)
        return now - frames / self.samplerate

    def _fill(self, outdata: np.ndarray, frames: int, now: float) -> None:
        with self._lock:
            if not self._playing and self._queue.size:
                waited = self._waiting_since is not None and now - self._waiting_since >= self._prefill_s
                if self._queue.size >= self._prefill or waited:
                    self._playing, self._dry, self._waiting_since = True, 0, None
            out = self._queue.pull(frames) if self._playing else np.zeros(0, dtype=np.float32)
            starved = 0
            if out.size and self._dry:
                starved, self._dry = self._dry, 0
            missing = frames - out.size
            if self._playing and missing:
                self._dry += missing
                if self._dry > self._idle:  # a long pause is the end of playback, not a starved earpiece
                    self._playing, self._dry = False, 0
        outdata[: out.size, 0] = out
        outdata[out.size :, 0] = 0.0
        if starved:
            self._emit(AudioXrun(now, "playback", self._frames(starved), "underrun"))

    def _smooth(self, measured: float) -> float:
        """Frame times step by exactly 20 ms, pulled gently toward the measured time.

        A callback's time jitters by a block or more, while the card captures at a steady rate: following the
        card's count keeps consecutive stamps 20 ms apart, and the small pull keeps them on the clock despite the
        two clocks' drift. A measured time more than two frames later (audio lost) starts afresh from it. One more
        than two frames earlier is not lost audio but a late callback's restart undone (on a loaded machine,
        15 times in 30 s): starting afresh there stamped a frame before the one it follows, so the count goes on.
        """
        expected = self._next_frame_at
        if expected is None or measured - expected > 2 * FRAME_MS / 1000:
            at = measured
        else:
            at = expected + max(_PULL * (measured - expected), -FRAME_MS / 2000)  # never a step under 10 ms
        self._next_frame_at = at + FRAME_MS / 1000
        return at

    def _capture(self, block: np.ndarray, block_end: float) -> None:
        resampled = self._down.resample_chunk(np.ascontiguousarray(block))
        pending = np.concatenate([self._captured, resampled])
        whole = len(pending) // FRAME_SAMPLES
        for i in range(whole):
            after = len(pending) - (i + 1) * FRAME_SAMPLES  # 8 kHz samples captured after this frame ends
            at = self._smooth(block_end - (after + FRAME_SAMPLES) / SAMPLE_RATE)
            frame = to_int16(pending[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES] * FULL_SCALE)
            self._emit(AudioFrame(at, "mic", frame))
        self._captured = pending[whole * FRAME_SAMPLES :].copy()
