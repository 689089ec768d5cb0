"""The SIP line's calls out against SIPp, a real SIP peer on loopback: every call is real SIP and real RTP.
Registration and what reaches the line unasked are in test_sip_line_registration_and_inbound.py."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest

from hal.audio import AudioFrame
from hal.clock import MonotonicClock
from hal.events import Event
from hal.sip_line import SipLine, SipSettings, progress_for
from sim import sipp
from sim.ports import free_port

pytestmark = pytest.mark.hardware


def tone(hz: float, seconds: float, level: float = 8000.0) -> np.ndarray:
    t = np.arange(int(8000 * seconds)) / 8000
    return (level * np.sin(2 * np.pi * hz * t)).astype(np.int16)


class Recorder:
    """The runtime's sink as the line sees it: any thread may post."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._cond = threading.Condition()

    def __call__(self, event: Event) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait_for(self, kind: str, timeout: float = 8.0) -> Event:
        with self._cond:
            ok = self._cond.wait_for(lambda: any(e.kind == kind for e in self.events), timeout)
        assert ok, f"no {kind} event; got {self.kinds()}"
        return next(e for e in self.events if e.kind == kind)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events if e.kind != "audio_frame"]

    def far_audio(self) -> np.ndarray:
        frames = [e.samples for e in self.events if isinstance(e, AudioFrame)]
        return np.concatenate(frames) if frames else np.zeros(0, dtype=np.int16)


@pytest.fixture
def line():
    made: list[SipLine] = []

    def make(**settings) -> tuple[SipLine, Recorder]:
        sink = Recorder()
        sip = SipLine(MonotonicClock(), SipSettings(local_address="127.0.0.1", **settings))
        sip.start(sink)
        made.append(sip)
        return sip, sink

    yield make
    for sip in made:
        sip.close()


def talk(sip: SipLine, seconds: float, samples: np.ndarray | None = None) -> None:
    """Send 20 ms frames in real time, as the audio device's tick does."""
    frames = int(seconds / 0.02)
    for i in range(frames):
        chunk = samples[i * 160 : (i + 1) * 160] if samples is not None else np.zeros(0, np.int16)
        if len(chunk) < 160:
            chunk = np.zeros(160, dtype=np.int16)
        sip.send(chunk)
        time.sleep(0.02)


def level_at(samples: np.ndarray, hz: float) -> float:
    """The share of the signal's power within 20 Hz of `hz`: near 1 for a clean tone, near 0 without it."""
    power = np.abs(np.fft.rfft(samples.astype(float))) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / 8000)
    return float(power[np.abs(freqs - hz) <= 20].sum() / (power.sum() + 1e-9))


@pytest.mark.parametrize(
    ("status", "state"),
    [
        (180, "ringing"),
        (183, "ringing"),
        (486, "busy"),
        (600, "busy"),
        (404, "unreachable"),
        (484, "unreachable"),
        (410, "unreachable"),
        (604, "unreachable"),
        (480, "no_answer"),
        (408, "no_answer"),
        (503, "reorder"),
        (403, "reorder"),
        (100, None),
        (200, None),
        (487, None),
    ],
)
def test_each_sip_response_means_what_the_issue_says(status, state):
    assert progress_for(status) == state


def test_answered_call_carries_the_far_ends_audio_and_its_bye(line):
    with sipp.SippPeer(sipp.answer(tone(440, 2.0), talk_ms=2500)) as peer:
        sip, sink = line()
        sip.dial(peer.uri)
        sink.wait_for("line_answered")
        talk(sip, 1.0)
        hung_up = sink.wait_for("line_hung_up")
        assert peer.wait(10) == 0, peer.errors()
    sip.close()
    answered = next(e for e in sink.events if e.kind == "line_answered")
    # What the network did to the far end's audio is told as the call's RTP ends, before the hang-up.
    assert sink.kinds()[:4] == ["line_progress", "line_answered", "line_media", "line_hung_up"]
    assert hung_up.at - answered.at == pytest.approx(2.5, abs=0.5)
    far = sink.far_audio()
    assert len(far) >= 8000 * 1.8  # the 2 s answer arrived as whole 20 ms frames
    assert level_at(far, 440) > 0.8
    assert sip.last_stats["frames_in"] * 160 == len(far)
    report = next(e for e in sink.events if e.kind == "line_media")
    assert report.counts == sip.last_stats
    assert report.counts["frames_in"] * 160 == len(far) and report.counts["packets_received"] >= 90
    assert report.counts["foreign_packets"] == 0 and "late_dropped" in report.counts
    assert report.counts["source_changes"] == 0 and report.counts["media_moves"] == 0  # one stream, never moved


def test_our_audio_reaches_the_far_end_and_our_bye_ends_the_call(line):
    """SIPp echoes our RTP back: the tone we send is the tone we hear, so audio went out and came back."""
    with sipp.SippPeer(sipp.answer(None, peer_hangs_up=False)) as peer:
        sip, sink = line()
        sip.dial(peer.uri)
        sink.wait_for("line_answered")
        talk(sip, 1.5, tone(1000, 1.5))
        sip.hang_up()
        assert peer.wait(10) == 0, peer.errors()  # SIPp got our BYE and answered it
    echoed = sink.far_audio()
    assert len(echoed) > 8000
    assert level_at(echoed, 1000) > 0.8
    assert "line_hung_up" not in sink.kinds()  # we hung up: the line does not report itself


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("486 Busy Here", "busy"),
        ("404 Not Found", "unreachable"),
        ("480 Temporarily Unavailable", "no_answer"),
        ("503 Service Unavailable", "reorder"),
    ],
)
def test_refused_calls_become_progress_and_are_acknowledged(line, status, state):
    with sipp.SippPeer(sipp.reject(status)) as peer:
        sip, sink = line()
        sip.dial(peer.uri)
        sink.wait_for("line_progress")
        deadline = time.monotonic() + 5
        while len([e for e in sink.events if e.kind == "line_progress"]) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert peer.wait(10) == 0, peer.errors()  # our ACK reached SIPp
    states = [e.state for e in sink.events if e.kind == "line_progress"]
    assert states == ["ringing", state]
    assert sip.last_response[0] == int(status.split()[0])
    assert "line_media" not in sink.kinds()  # no audio was negotiated: nothing to tell of it


def test_hanging_up_while_it_rings_cancels_the_call(line):
    with sipp.SippPeer(sipp.ring_until_cancel()) as peer:
        sip, sink = line()
        sip.dial(peer.uri)
        sink.wait_for("line_progress")
        sip.hang_up()
        assert peer.wait(10) == 0, peer.errors()  # CANCEL, 487, ACK, as SIPp scripted it
    assert sink.kinds() == ["line_progress"]


def test_early_media_reaches_the_flow_before_the_answer(line):
    with sipp.SippPeer(sipp.answer(tone(440, 0.5), early_media=tone(425, 1.0), ring_ms=1500, talk_ms=800)) as peer:
        sip, sink = line()
        sip.dial(peer.uri)
        answered = sink.wait_for("line_answered")
        early = np.concatenate([e.samples for e in sink.events if e.kind == "audio_frame" and e.at < answered.at])
        sink.wait_for("line_hung_up")
        assert peer.wait(10) == 0, peer.errors()
    assert len(early) >= 8000 * 0.8
    assert level_at(early, 425) > 0.8  # the far end's own ringback, for the call-progress detector


def test_a_peer_that_never_answers_is_network_trouble_not_a_hang(line):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        sip, sink = line(response_timeout_s=1.5)
        started = time.monotonic()
        sip.dial(f"sip:1234@127.0.0.1:{silent.getsockname()[1]}")
        progress = sink.wait_for("line_progress", timeout=5)
        assert progress.state == "reorder"
        assert time.monotonic() - started == pytest.approx(1.5, abs=0.6)
        silent.settimeout(0.1)
        invites = 0
        try:
            while True:
                data = silent.recv(4096)
                invites += data.startswith(b"INVITE")
        except TimeoutError:
            pass
    assert invites >= 3  # sent, then resent at 0.5 s and 1 s (timer A)


@pytest.mark.parametrize("uri", ["sip:", "sips:1234@127.0.0.1:5061"])
def test_a_number_that_is_not_a_sip_address_this_line_can_call_is_unreachable(line, uri):
    sip, sink = line()
    sip.dial(uri)
    assert sink.wait_for("line_progress").state == "unreachable"
    assert "not a SIP address" in sip.last_response[1]


def test_rfc4733_digits_from_the_far_end_become_line_digits(line):
    with sipp.SippPeer(sipp.answer(None, digits="19#", talk_ms=400)) as peer:
        sip, sink = line()
        sip.dial(peer.uri)
        sink.wait_for("line_answered")
        sink.wait_for("line_hung_up")
        assert peer.wait(10) == 0, peer.errors()
    assert [e.digit for e in sink.events if e.kind == "line_digit"] == ["1", "9", "#"]


def test_a_call_between_two_real_stacks_baresip_answers(line):
    """baresip (a C user agent) as the called party: its WAV reaches us, our tone reaches it, our BYE ends it."""
    from sim.baresip import BaresipPeer

    with BaresipPeer(tone(440, 10.0, level=6000)) as peer:
        sip, sink = line()
        sip.dial(peer.uri)
        sink.wait_for("line_answered")
        talk(sip, 2.0, tone(1000, 2.0, level=6000))
        sip.hang_up()
        assert peer.wait_call_ended(), peer.log()
        heard = peer.heard()
    assert level_at(sink.far_audio(), 440) > 0.9
    assert len(heard) > 8000 * 1.5
    assert level_at(heard, 1000) > 0.9


@pytest.mark.parametrize(("password", "answered"), [("s3cret", True), ("wrong", False)])
def test_a_challenged_invite_is_retried_with_the_digest_once(line, password, answered):
    with sipp.SippPeer(sipp.authenticating_server("handset-a1", "s3cret")) as peer:
        sip, sink = line(user="handset-a1", password=password)
        sip.dial(peer.uri)
        if answered:
            sink.wait_for("line_answered")
            sip.hang_up()
        else:
            deadline = time.monotonic() + 5
            while "reorder" not in [getattr(e, "state", "") for e in sink.events] and time.monotonic() < deadline:
                time.sleep(0.05)
        assert peer.wait(10) == 0, peer.errors()  # every challenge and refusal acknowledged, the BYE answered
    if not answered:
        assert [e.state for e in sink.events if e.kind == "line_progress"] == ["reorder"]
        assert sip.last_response == (403, "Forbidden")


@pytest.mark.parametrize("tone_name", ["ringback", "busy", "reorder", "sit"])
def test_early_media_tones_are_recognised_by_the_progress_detector(line, tone_name):
    """A network that plays its ringback, busy, reorder or SIT tone in early media (no final response): the frames
    the line hands over are what the call-progress detector needs to recognise it."""
    from firmware.dsp.progress import ProgressDetector
    from firmware.dsp.tones import cadence
    from hal.audio import to_int16
    from sim.network import _sit_tone

    cadences = {
        "ringback": ([440, 480], [2.0, 4.0]),
        "busy": ([480, 620], [0.5, 0.5]),
        "reorder": ([480, 620], [0.25, 0.25]),
    }
    if tone_name in cadences:
        freqs, on_off = cadences[tone_name]
        sound = to_int16(cadence(freqs, -20, on_off, 4.0))
    else:
        sound = _sit_tone()
    with sipp.SippPeer(sipp.ring_until_cancel(early_media=sound)) as peer:
        sip, sink = line()
        sip.dial(peer.uri)
        sink.wait_for("line_progress")
        detector, heard = ProgressDetector(), []
        deadline = time.monotonic() + 6
        seen = 0
        while tone_name not in heard and time.monotonic() < deadline:
            frames = [e for e in sink.events if e.kind == "audio_frame"]
            for e in frames[seen:]:
                heard += [t.tone for t in detector.feed(e.samples, e.at) if t.kind == "start"]
            seen = len(frames)
            time.sleep(0.05)
        sip.hang_up()
        assert peer.wait(10) == 0, peer.errors()
    assert tone_name in heard


def test_an_answer_that_crosses_our_cancel_is_acknowledged_and_ended(line):
    with sipp.SippPeer(sipp.answer_despite_cancel()) as peer:
        sip, sink = line()
        sip.dial(peer.uri)
        sink.wait_for("line_progress")
        sip.hang_up()
        assert peer.wait(10) == 0, peer.errors()  # ACK and BYE for the 200 OK; nobody is left talking
    assert sink.kinds() == ["line_progress"]


def test_sip_over_tcp_places_the_call_and_takes_the_far_ends_bye(line):
    with sipp.SippPeer(sipp.answer(tone(440, 1.0), talk_ms=1500), tcp=True) as peer:
        sip, sink = line(transport="tcp")
        sip.dial(peer.uri + ";transport=tcp")
        sink.wait_for("line_answered")
        talk(sip, 0.5)
        sink.wait_for("line_hung_up")
        assert peer.wait(10) == 0, peer.errors()
        log = peer.errors()
    assert "Via: SIP/2.0/TCP" in log and "transport=tcp>" in log  # our INVITE said TCP, and asked for TCP
    assert level_at(sink.far_audio(), 440) > 0.9


def test_a_tcp_server_that_refuses_connections_is_network_trouble(line):
    closed = free_port(socket.SOCK_STREAM)
    sip, sink = line(transport="tcp", response_timeout_s=1.0)
    sip.dial(f"sip:1@127.0.0.1:{closed}")
    assert sink.wait_for("line_progress", timeout=4).state == "reorder"


def test_closing_right_after_a_cancel_still_acknowledges_the_487(line):
    """A technician's test or a shutdown hangs up and closes at once: the 487 must still get its ACK."""
    with sipp.SippPeer(sipp.ring_until_cancel()) as peer:
        sip, sink = line()
        sip.dial(peer.uri)
        sink.wait_for("line_progress")
        sip.hang_up()
        sip.close()
        assert peer.wait(10) == 0, peer.errors()
