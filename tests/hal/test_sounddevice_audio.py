"""The sounddevice AudioPort on a real PortAudio stream through a PulseAudio null sink.

The port plays to the null sink and records its monitor, so what it captures is what it played, after a real
trip through PortAudio, ALSA's PulseAudio plugin, PulseAudio's resampler and both of our soxr resamplers.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from firmware.dsp.levels import dbm0
from firmware.dsp.tones import sines, to_int16
from hal.audio import FRAME_SAMPLES, SAMPLE_RATE, AudioFrame
from hal.clock import MonotonicClock
from hal.events import AudioXrun, Event

ROOT = Path(__file__).resolve().parents[2]
TONE_HZ = 1000.0
TONE_DBM0 = -10.0


@pytest.fixture(scope="module")
def pulse_null_sink() -> None:
    started = subprocess.run(
        [str(ROOT / "scripts/start-audio")], capture_output=True, text=True, timeout=60, check=False
    )
    if started.returncode != 0:
        pytest.fail(f"PulseAudio null sink did not start: {started.stderr.strip()}")


class Capture:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def frames(self) -> list[AudioFrame]:
        with self._lock:
            return [e for e in self.events if isinstance(e, AudioFrame)]

    def xruns(self, direction: str, xrun: str) -> list[AudioXrun]:
        with self._lock:
            return [e for e in self.events if isinstance(e, AudioXrun) and (e.direction, e.xrun) == (direction, xrun)]


@pytest.fixture
def port_factory(pulse_null_sink: None) -> Iterator:
    from hal.sounddevice_audio import SoundDeviceAudioPort

    opened: list[SoundDeviceAudioPort] = []

    def make(samplerate: int = 0, **options: float) -> tuple[SoundDeviceAudioPort, Capture]:
        port = SoundDeviceAudioPort(MonotonicClock(), None, samplerate, **options)
        capture = Capture()
        port.start(capture)
        opened.append(port)
        return port, capture

    yield make
    for port in opened:
        port.close()


def paced(port, samples: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    """Play frame by frame in real time, as the runtime does with far-end audio."""
    start = time.monotonic()
    for i in range(len(samples) // FRAME_SAMPLES):
        port.play(samples[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES])
        time.sleep(max(0.0, start + (i + 1) * 0.020 - time.monotonic()))


def peak_hz(x: np.ndarray) -> float:
    """Frequency of the strongest component, refined between FFT bins (parabolic on log magnitude)."""
    window = np.hanning(len(x))
    spectrum = np.abs(np.fft.rfft(x * window)) + 1e-12
    k = int(np.argmax(spectrum[1:-1])) + 1
    a, b, c = np.log(spectrum[k - 1 : k + 2])
    offset = 0.5 * (a - c) / (a - 2 * b + c)
    return float((k + offset) * SAMPLE_RATE / len(x))


@pytest.mark.hardware
@pytest.mark.parametrize("samplerate", [0, 48000])
def test_a_played_tone_comes_back_at_its_frequency_and_level(port_factory, samplerate: int) -> None:  # type: ignore[no-untyped-def]
    import sounddevice as sd

    port, capture = port_factory(samplerate)
    expected_rate = samplerate or int(sd.query_devices(None, "output")["default_samplerate"])
    assert port.samplerate == expected_rate
    paced(port, to_int16(sines([TONE_HZ], [TONE_DBM0], 1.2)))
    time.sleep(0.3)
    frames = capture.frames()
    assert frames and all(f.samples.dtype == np.int16 and f.samples.shape == (160,) for f in frames)
    assert {f.source for f in frames} == {"mic"}
    loud = [i for i, f in enumerate(frames) if dbm0(f.samples) > TONE_DBM0 - 10]
    assert len(loud) >= 30, f"only {len(loud)} frames of tone came back"
    # Skip the first ~60 ms of the tone (stream start-up), then analyse the longest unbroken stretch.
    runs: list[list[int]] = [[]]
    for i in loud[3:]:
        if runs[-1] and i != runs[-1][-1] + 1:
            runs.append([])
        runs[-1].append(i)
    stretch = max(runs, key=len)
    assert len(stretch) >= 20, f"longest unbroken stretch of tone is {len(stretch)} frames"
    x = np.concatenate([frames[i].samples for i in stretch[1:-1]]).astype(np.float64)
    # PulseAudio's rate-adapting resampler, holding a low-latency stream steady, shifts pitch: 0.3% on a quiet
    # machine, 0.6% seen on a loaded one. A wrong rate conversion anywhere (44.1 vs 48 kHz, 8 kHz framing) is
    # off by 8% or more, so 1.5% tells the two apart with room on both sides.
    assert peak_hz(x) == pytest.approx(TONE_HZ, rel=0.015)
    assert dbm0(x) == pytest.approx(TONE_DBM0, abs=0.5)


@pytest.mark.hardware
def test_captured_frames_are_stamped_by_the_clock_20_ms_apart(port_factory) -> None:  # type: ignore[no-untyped-def]
    _port, capture = port_factory()
    before = MonotonicClock().now()
    time.sleep(1.0)
    after = MonotonicClock().now()
    frames = capture.frames()
    assert len(frames) >= 40
    times = np.array([f.at for f in frames])
    assert before - 0.2 <= times[0] and times[-1] <= after
    assert np.all(np.diff(times) > 0)
    # Consecutive stamps follow the card: 20 ms apart to within a millisecond, although callbacks jitter by a
    # block or more; a larger step happens only where audio was lost and reported.
    steps = np.diff(times)
    assert np.median(steps) == pytest.approx(0.020, abs=0.0005)
    assert np.all(np.abs(steps - 0.020) < 0.001) or capture.xruns("capture", "overrun")


@pytest.mark.hardware
def test_a_producer_falling_behind_mid_playback_is_reported_as_underrun(port_factory) -> None:  # type: ignore[no-untyped-def]
    port, capture = port_factory(idle_ms=400.0)
    tone = to_int16(sines([TONE_HZ], [TONE_DBM0], 0.24))
    frames = [tone[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES] for i in range(12)]
    for f in frames[:6]:
        port.play(f)
    time.sleep(0.12 + 0.15)  # 120 ms of audio queued, then 150 ms late with the rest (under the idle rule)
    for f in frames[6:]:
        port.play(f)
    time.sleep(0.4)
    starved = capture.xruns("playback", "underrun")
    assert starved, f"no underrun reported; events: {[e for e in capture.events if isinstance(e, AudioXrun)]}"
    # The earpiece heard roughly the 150 ms the producer was late, less what the card had buffered.
    assert 4 <= sum(e.frames for e in starved) <= 12


@pytest.mark.hardware
def test_a_pause_longer_than_idle_is_the_end_of_playback_not_an_underrun(port_factory) -> None:  # type: ignore[no-untyped-def]
    port, capture = port_factory()
    tone = to_int16(sines([TONE_HZ], [TONE_DBM0], 0.12))
    for _burst in range(2):
        for i in range(6):
            port.play(tone[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES])
        time.sleep(0.6)
    # A one-frame hiccup can come from the machine's scheduling; a 500 ms pause must not be counted.
    assert sum(e.frames for e in capture.xruns("playback", "underrun")) <= 1


@pytest.mark.hardware
def test_a_producer_running_ahead_loses_the_oldest_audio_as_overrun(port_factory) -> None:  # type: ignore[no-untyped-def]
    port, capture = port_factory(queue_ms=200.0)
    tone = to_int16(sines([TONE_HZ], [TONE_DBM0], 0.8))
    for i in range(40):  # 800 ms at once into a 200 ms queue
        port.play(tone[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES])
    dropped = sum(e.frames for e in capture.xruns("playback", "overrun"))
    # 30 frames do not fit; the card may have taken a few while they were being queued.
    assert 20 <= dropped <= 31


@pytest.mark.hardware
def test_a_stream_that_stops_calling_back_is_restarted_and_the_gap_reported(port_factory) -> None:  # type: ignore[no-untyped-def]
    port, capture = port_factory(stall_ms=200.0)
    time.sleep(0.3)
    port._stream.abort()  # what PortAudio's ALSA backend does to a stream after some xruns: no more callbacks
    time.sleep(0.8)
    assert port.restarts >= 1
    lost = capture.xruns("capture", "overrun")
    assert lost and lost[0].frames >= 10  # at least the 200 ms stall
    count = len(capture.frames())
    time.sleep(0.3)
    assert len(capture.frames()) > count, "capture did not resume after the restart"


def test_a_missing_device_is_an_error_naming_it() -> None:
    from hal.sounddevice_audio import AudioDeviceError, SoundDeviceAudioPort

    with pytest.raises(AudioDeviceError, match="audio device ringfence-no-such-card"):
        SoundDeviceAudioPort(MonotonicClock(), "ringfence-no-such-card", 0)


@pytest.mark.hardware
def test_playing_something_that_is_not_a_frame_is_refused(pulse_null_sink: None) -> None:
    from hal.sounddevice_audio import SoundDeviceAudioPort

    port = SoundDeviceAudioPort(MonotonicClock(), None, 0)
    with pytest.raises(ValueError, match="an audio frame is 160 int16 samples"):
        port.play(np.zeros(100, dtype=np.int16))
