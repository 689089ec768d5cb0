"""A hold the far end signals (SIP re-INVITE): reported for the call's review. When the far end sends no audio,
held or not, the three-way detector hears the digital silence the inmate hears, as on any other line."""

from __future__ import annotations

import numpy as np

from firmware.handset import messages as m
from firmware.handset.far_end import HELD_SILENCE_AFTER_S, SENDER_STOPPED_AFTER_S, OpenLine, dsp_detectors
from firmware.handset.machine import HandsetFlow
from firmware.prompts.catalog import shipped
from hal.audio import FRAME_SAMPLES, SAMPLE_RATE, AudioFrame
from hal.line import LineAnswered, LineDigit, LineHeld
from sim.network import corpus_audio
from tests.handset.test_flow_robustness import new_flow
from tests.handset.test_line_states import placing

FRAME_S = FRAME_SAMPLES / SAMPLE_RATE


def connected_call() -> tuple[HandsetFlow, list]:
    """A connected call on the firmware's own detectors; returns the flow and its event feeder's outputs."""
    flow = HandsetFlow(new_flow().policy, shipped(), dsp_detectors)
    out: list = []
    go = placing(flow)
    go(LineAnswered(6.0))
    go(LineDigit(7.0, "1"))
    assert flow.state == "connected"
    return flow, out


def ticks(flow: HandsetFlow, start: float, seconds: float, far: np.ndarray | None) -> list:
    """The audio device's 20 ms ticks from `start`, each with the far end's frame when `far` is given."""
    out: list = []
    for k in range(round(seconds / FRAME_S)):
        at = start + k * FRAME_S
        out += flow.handle(AudioFrame(at, "mic", np.zeros(FRAME_SAMPLES, dtype=np.int16)))
        if far is not None:
            out += flow.handle(AudioFrame(at + 0.001, "line", far[k * FRAME_SAMPLES : (k + 1) * FRAME_SAMPLES]))
    return out


def test_a_hold_the_far_end_signals_is_reported_with_how_long_it_lasted():
    flow, _ = connected_call()
    held = flow.handle(LineHeld(20.0, True))
    back = flow.handle(LineHeld(34.5, False))
    reports = [c for c in held + back if isinstance(c, m.ReportIncident)]
    assert [(r.incident, r.detail["held"], r.detail.get("held_s")) for r in reports] == [
        ("far_end_hold", True, None),
        ("far_end_hold", False, 14.5),
    ]
    assert all(r.detail["call_id"] == flow.call_id != "" for r in reports)


def test_a_signalled_hold_that_sends_nothing_is_heard_as_a_held_line():
    flow, _ = connected_call()
    talk = corpus_audio("plain", 3, 12.0)
    assert not any(isinstance(c, m.ThreeWayDetected) for c in ticks(flow, 8.0, 12.0, talk))
    flow.handle(LineHeld(20.0, True))  # SIP `inactive`: from now on no far-end frame comes
    heard = [c for c in ticks(flow, 20.0, 4.0, None) if isinstance(c, m.ThreeWayDetected)]
    assert len(heard) == 1


def test_a_far_end_that_stops_sending_without_a_signalled_hold_is_heard_as_a_held_line():
    """No re-INVITE, no packets: a hold that sends nothing, or a far end that suppresses its silence without comfort
    noise. The inmate hears silence; so does the detector, which decides on it as on any line's silence."""
    flow, _ = connected_call()
    ticks(flow, 8.0, 12.0, corpus_audio("plain", 3, 12.0))
    heard = [c for c in ticks(flow, 20.0, 4.0, None) if isinstance(c, m.ThreeWayDetected)]
    assert len(heard) == 1 and heard[0].evidence[0].startswith("held line"), heard


def test_a_second_without_packets_is_no_hold_and_is_filed_with_the_call():
    """A network that stalls for a second (or a sender's short pause) is a dropout, not a held line; the stop is
    filed under the call when the far end's audio comes back, for whoever reviews it."""
    flow, _ = connected_call()
    talk = corpus_audio("plain", 3, 20.0)
    out = ticks(flow, 8.0, 12.0, talk[: 12 * SAMPLE_RATE])
    out += ticks(flow, 20.0, 1.0, None)
    out += ticks(flow, 21.0, 8.0, talk[12 * SAMPLE_RATE :])
    assert not any(isinstance(c, m.ThreeWayDetected) for c in out)
    stops = [c.detail for c in out if isinstance(c, m.ReportIncident) and c.incident == "far_end_silent"]
    assert stops == [{"call_id": flow.call_id, "silent_s": 1.02}]  # its last frame at 19.981, the next at 21.001


def test_frames_a_little_late_are_no_stop():
    """Far-end frames that come in bursts (a jittery network), 0.18 s apart, never reach the detector as silence."""
    flow, _ = connected_call()
    talk = corpus_audio("plain", 3, 20.0)
    out = []
    for k in range(0, 20 * 50, 9):  # nine mouthpiece ticks, then nine far-end frames at once: every 0.18 s
        at = 8.0 + k * FRAME_S
        for j in range(9):
            out += flow.handle(AudioFrame(at + j * FRAME_S, "mic", np.zeros(FRAME_SAMPLES, dtype=np.int16)))
        chunk = talk[k * FRAME_SAMPLES : (k + 9) * FRAME_SAMPLES]
        for j in range(len(chunk) // FRAME_SAMPLES):
            frame = chunk[j * FRAME_SAMPLES : (j + 1) * FRAME_SAMPLES]
            out += flow.handle(AudioFrame(at + 8 * FRAME_S + 0.001, "line", frame))
    assert not any(isinstance(c, m.ReportIncident) and c.incident == "far_end_silent" for c in out)
    assert not any(isinstance(c, m.ThreeWayDetected) for c in out)


def test_silence_is_supplied_after_two_frames_of_a_signalled_hold():
    line = OpenLine(dsp_detectors(), echo_hold_s=0.5)
    line.far_heard(10.0)
    line.hold_changed(True, 10.0)
    assert line.far_silence(10.0 + HELD_SILENCE_AFTER_S - 0.001) is None  # the far end's frame may be late
    silence = line.far_silence(10.0 + HELD_SILENCE_AFTER_S + 1e-6)
    assert silence is not None and not silence.any() and len(silence) == FRAME_SAMPLES
    assert line.hold_changed(False, 12.5) == 2.5


def test_silence_is_supplied_once_an_unheld_far_end_has_stopped_sending():
    line = OpenLine(dsp_detectors(), echo_hold_s=0.5)
    assert line.far_silence(10.0) is None  # nothing heard yet: the far end has not started sending
    line.far_heard(10.0)
    assert line.far_silence(10.0 + SENDER_STOPPED_AFTER_S - 0.001) is None  # late frames, a jitter burst
    silence = line.far_silence(10.0 + SENDER_STOPPED_AFTER_S + 1e-6)
    assert silence is not None and not silence.any() and len(silence) == FRAME_SAMPLES
    assert line.far_heard(10.5) == 0.5  # its frames come again: the far end sent nothing from 10.0
    assert line.far_silence(10.52) is None
    assert line.far_heard(10.54) is None  # no stop since


def test_a_signalled_hold_is_no_unsignalled_stop():
    line = OpenLine(dsp_detectors(), echo_hold_s=0.5)
    line.far_heard(10.0)
    line.hold_changed(True, 10.0)
    assert line.far_silence(11.0) is not None
    assert line.far_heard(12.0) is None  # the hold is reported as far_end_hold, with how long it lasted
