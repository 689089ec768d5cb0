"""The sounddevice AudioPort on a real PortAudio stream through a PulseAudio null sink.

The port plays to the null sink and records its monitor, so what it captures is what it played, after a real
trip through PortAudio, ALSA's PulseAudio plugin, PulseAudio's resampler and both of our soxr resamplers.

These run on shared 2-core CI machines: no test here relies on a sleep ending on time. Each waits for what it
needs with a deadline, and a bound that depends on timing is stated relative to what the test measured of its
own producer (how late it really was, how long its pushes really took), or to what the port itself reports.
"""

from __future__ import annotations

import math
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pytest

from firmware.dsp.levels import dbm0
from firmware.dsp.tones import sines
from hal.audio import FRAME_SAMPLES, SAMPLE_RATE, AudioFrame, to_int16
from hal.clock import MonotonicClock
from hal.events import AudioXrun, Event
from tests.paths import ROOT
from tests.waiting import wait_for

if TYPE_CHECKING:
    from hal.sounddevice_audio import SoundDeviceAudioPort

TONE_HZ = 1000.0
TONE_DBM0 = -10.0
FRAME_S = FRAME_SAMPLES / SAMPLE_RATE


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

    def dropouts(self) -> list[AudioXrun]:
        """Audio the card went without or lost: playback underruns and capture overruns."""
        return self.xruns("playback", "underrun") + self.xruns("capture", "overrun")

    def xruns(self, direction: str, xrun: str) -> list[AudioXrun]:
        with self._lock:
            return [e for e in self.events if isinstance(e, AudioXrun) and (e.direction, e.xrun) == (direction, xrun)]


class PortFactory(Protocol):
    def __call__(self, samplerate: int = 0, **options: float) -> tuple[SoundDeviceAudioPort, Capture]: ...


@pytest.fixture
def port_factory(pulse_null_sink: None) -> Iterator[PortFactory]:
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


def on_a_steady_stream(
    port_factory: PortFactory,
    scenario: Callable[[SoundDeviceAudioPort, Capture], None],
    samplerate: int = 0,
    *,
    queued_at_once: bool = False,
    **options: float,
) -> None:
    """Run `scenario` (which asserts) on a running port; run it again on a fresh port if a stall explains a failure.

    On a loaded machine PortAudio's ALSA thread can give up on a poll ("PaAlsaStream_WaitForFrames failed") and
    stop calling back. The port restarts the stream and reports the gap (the stall test checks that), but a bound
    on what one producer did means nothing across a restart. A failure with no restart behind it fails the test.

    A scenario that queues all its audio at once (`queued_at_once`) never lets the port's queue run dry mid-tone:
    an underrun or overrun reported while it runs is PortAudio's own flag, the card's thread run too late to fill
    or empty its buffer, and the gap it leaves in the captured tone explains a failure the same way.
    """
    for _attempt in range(3):
        port, capture = port_factory(samplerate, **options)
        running = capture.frames
        wait_for(lambda: len(running()) >= 5, 10.0, "the stream never captured")  # noqa: B023 (called at once)
        xruns_before = len(capture.dropouts())
        try:
            scenario(port, capture)
            return
        except AssertionError:
            dropped = queued_at_once and len(capture.dropouts()) > xruns_before
            if port.restarts == 0 and not dropped:
                raise
        port.close()
    pytest.fail("the audio stream stalled, or the card dropped audio, in each of 3 attempts")


def frames_of(samples: np.ndarray) -> list[np.ndarray]:
    return [samples[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES] for i in range(len(samples) // FRAME_SAMPLES)]


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
def test_a_played_tone_comes_back_at_its_frequency_and_level(port_factory: PortFactory, samplerate: int) -> None:
    import sounddevice as sd

    # The whole tone is queued at once, so the card plays it at its own pace whatever the producer's thread does.
    def scenario(port: SoundDeviceAudioPort, capture: Capture) -> None:
        expected_rate = samplerate or int(sd.query_devices(None, "output")["default_samplerate"])
        assert port.samplerate == expected_rate
        tone = frames_of(to_int16(sines([TONE_HZ], [TONE_DBM0], 1.2)))
        heard_before = len(capture.frames())
        for frame in tone:
            port.play(frame)
        wait_for(lambda: len(capture.frames()) >= heard_before + len(tone) + 15, 10.0, "the tone was not captured")
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

    on_a_steady_stream(port_factory, scenario, samplerate, queued_at_once=True, queue_ms=2000.0)


@pytest.mark.hardware
def test_captured_frames_are_stamped_by_the_clock_20_ms_apart(port_factory: PortFactory) -> None:
    before = MonotonicClock().now()
    _port, capture = port_factory()
    wait_for(lambda: len(capture.frames()) >= 50, 10.0, "fewer than 50 frames captured")
    after = MonotonicClock().now()
    times = np.array([f.at for f in capture.frames()])
    assert before - 0.2 <= times[0] and times[-1] <= after
    assert np.all(np.diff(times) > 0)
    # Consecutive stamps follow the card: each step is 20 ms, moved by at most 5% of a two-frame difference
    # from the measured time (beyond that the port restarts from the measured time, which only lost audio
    # explains). Raw callback times, which arrive in pairs 0.2 ms and 20 ms apart, would step by 10 ms or more.
    steps = np.diff(times)
    assert np.median(steps) == pytest.approx(FRAME_S, abs=0.0005)
    assert np.all(np.abs(steps - FRAME_S) <= 0.05 * 2 * FRAME_S + 1e-6) or capture.xruns("capture", "overrun")


@pytest.mark.hardware
def test_frame_stamps_step_20_ms_within_a_millisecond_through_a_block_of_callback_jitter(
    pulse_null_sink: None,
) -> None:
    """The smoothing itself, on made-up callback times: no scheduler involved, so no load can move it."""
    from hal.sounddevice_audio import SoundDeviceAudioPort

    port = SoundDeviceAudioPort(MonotonicClock(), None, 48000)
    capture = Capture()
    port._sink = capture
    block = np.zeros(480, dtype=np.float32)  # 10 ms, the port's block
    jitter = np.random.default_rng(11).uniform(-0.010, 0.010, 400)  # a block either way, as callbacks jitter
    for i, late in enumerate(jitter):
        port._capture(block, 100.0 + (i + 1) * 0.010 + late)
    times = np.array([f.at for f in capture.frames()])
    assert len(times) >= 190
    steps = np.diff(times[5:])  # after the resampler's first few milliseconds
    assert np.all(np.abs(steps - FRAME_S) < 0.001), f"steps from {steps.min():.4f} to {steps.max():.4f} s"
    # Still on the clock after 4 s: the last whole frame starts a frame, plus what is still pending, before the end.
    assert times[-1] == pytest.approx(104.0 - FRAME_S - 0.010, abs=0.015)


@pytest.mark.hardware
def test_frame_stamps_never_go_back_after_a_late_callback(pulse_null_sink: None) -> None:
    """One callback 60 ms late (a loaded machine), the next ones on time: nothing was lost, and no frame may be
    stamped before the one it follows (restarting from the on-time measurement did that, 15 times in 30 s)."""
    from hal.sounddevice_audio import SoundDeviceAudioPort

    port = SoundDeviceAudioPort(MonotonicClock(), None, 48000)
    capture = Capture()
    port._sink = capture
    block = np.zeros(480, dtype=np.float32)
    for i in range(200):
        port._capture(block, 100.0 + (i + 1) * 0.010 + (0.060 if i == 100 else 0.0))
    times = np.array([f.at for f in capture.frames()])
    assert len(times) >= 95
    assert np.all(np.diff(times) > 0), f"a step of {np.diff(times).min():.4f} s"
    assert times[-1] == pytest.approx(102.0 - FRAME_S - 0.010, abs=0.015), "back on the clock"


@pytest.mark.hardware
def test_audio_leaves_the_resamplers_as_steadily_as_it_enters(pulse_null_sink: None) -> None:
    """Each played frame reaches the earpiece queue at once, and each 20 ms captured becomes a frame at once.

    A resampler that holds audio back and releases it in lumps (soxr's fixed-rate engine: 150 ms at a time)
    starves the earpiece between lumps however well the rest of the path keeps time.
    """
    from hal.sounddevice_audio import SoundDeviceAudioPort

    port = SoundDeviceAudioPort(MonotonicClock(), None, 48000, queue_ms=1000.0)
    capture = Capture()
    port._sink = capture
    queued = []
    for frame in frames_of(to_int16(sines([TONE_HZ], [TONE_DBM0], 0.4))):
        before = port._queue.size
        port.play(frame)
        queued.append(port._queue.size - before)
    assert all(n == 960 for n in queued[2:]), f"device samples queued per 20 ms frame: {queued}"
    per_block = []
    for _ in range(40):
        before = len(capture.frames())
        port._capture(np.zeros(480, dtype=np.float32), 0.0)
        per_block.append(len(capture.frames()) - before)
    assert max(per_block) == 1 and sum(per_block[4:]) == 18, f"frames per 10 ms block: {per_block}"


@pytest.mark.hardware
def test_a_producer_falling_behind_mid_playback_is_reported_as_underrun(port_factory: PortFactory) -> None:
    frames = frames_of(to_int16(sines([TONE_HZ], [TONE_DBM0], 0.24)))

    def scenario(port: SoundDeviceAudioPort, capture: Capture) -> None:
        heard_before = len(capture.frames())
        started = time.monotonic()
        for f in frames[:6]:
            port.play(f)
        time.sleep(0.12 + 0.15)  # 120 ms of audio queued, then about 150 ms late with the rest (under the idle rule)
        resumed = time.monotonic()
        card_ran = len(capture.frames()) - heard_before  # frames the duplex card really took meanwhile
        for f in frames[6:]:
            port.play(f)
        wait_for(lambda: bool(capture.xruns("playback", "underrun")), 5.0, "no underrun reported")
        starved = sum(e.frames for e in capture.xruns("playback", "underrun"))
        # How late the producer really was (a loaded machine oversleeps), in frames: the earpiece went without about
        # that much, give or take the card's 50 ms buffer and a callback either side. A card whose own thread ran
        # late took less than the wall clock says (at load average 21: 2 frames starved, 7.8 late), and can only
        # have starved for what it ran past the 6 queued frames: that is the lower bound.
        late = (resumed - started - 0.12) / FRAME_S
        card_late = min(late, card_ran - 6)
        assert card_late - 4 <= starved <= late + 5, (
            f"{starved} frames starved, producer {late:.1f} frames late, the card {card_late} frames past the queue"
        )

    on_a_steady_stream(port_factory, scenario, idle_ms=1000.0)


@pytest.mark.hardware
def test_a_pause_longer_than_idle_is_the_end_of_playback_not_an_underrun(port_factory: PortFactory) -> None:
    tone = frames_of(to_int16(sines([TONE_HZ], [TONE_DBM0], 0.12)))

    def scenario(port: SoundDeviceAudioPort, capture: Capture) -> None:
        for _burst in range(2):
            for f in tone:
                port.play(f)
            time.sleep(0.6)
        # Counted as starvation, each 500 ms pause would be one underrun of 25 frames when the next burst comes.
        # A callback the machine runs late starves the card for a block (PortAudio's own underflow, one frame per
        # report), as often as the load makes it: at load average 20, 10 and 13 frames in all. So no single
        # underrun may be as long as idle_ms (100 ms, 5 frames), whatever their number.
        starved = [e.frames for e in capture.xruns("playback", "underrun")]
        assert max(starved, default=0) < 5, f"underruns of {starved} frames"

    on_a_steady_stream(port_factory, scenario)


@pytest.mark.hardware
def test_a_producer_running_ahead_loses_the_oldest_audio_as_overrun(port_factory: PortFactory) -> None:
    port, capture = port_factory(queue_ms=200.0)
    tone = frames_of(to_int16(sines([TONE_HZ], [TONE_DBM0], 0.8)))
    started = time.monotonic()
    for f in tone:  # 800 ms at once into a 200 ms queue
        port.play(f)
    took = time.monotonic() - started
    dropped = sum(e.frames for e in capture.xruns("playback", "overrun"))
    # 30 frames do not fit; the card takes its 50 ms buffer, and then a frame per 20 ms the pushes really took.
    assert 30 - 3 - math.ceil(took / FRAME_S) <= dropped <= 31, f"{dropped} dropped while pushing for {took:.3f} s"


@pytest.mark.hardware
def test_a_stream_that_stops_calling_back_is_restarted_and_the_gap_reported(port_factory: PortFactory) -> None:
    port, capture = port_factory(stall_ms=200.0)
    wait_for(lambda: len(capture.frames()) >= 5, 5.0, "the stream never captured")
    assert port._stream is not None
    port._stream.abort()  # what PortAudio's ALSA backend does to a stream after some xruns: no more callbacks
    wait_for(lambda: port.restarts >= 1, 5.0, "the stalled stream was not restarted")
    lost = capture.xruns("capture", "overrun")
    assert lost and lost[0].frames >= 10  # at least the 200 ms stall
    count = len(capture.frames())
    wait_for(lambda: len(capture.frames()) > count + 5, 5.0, "capture did not resume after the restart")


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
