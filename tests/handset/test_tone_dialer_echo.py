"""The echo of a tone dialer held to the mouthpiece is no number dialled beyond the line.

A third party's number bleeding faintly into a held line is a three-way attempt (tests/dsp/test_threeway_dialling.py);
a tone dialer's keys come back through the line's hybrid as the same faint DTMF. The device hears them in the
mouthpiece first and tells the three-way detector."""

from __future__ import annotations

import numpy as np

from firmware.dsp.mix import dtmf_key
from firmware.handset import messages as m
from firmware.handset.machine import HandsetFlow
from hal.audio import FRAME_SAMPLES, SAMPLE_RATE, AudioFrame
from tests.dsp.test_threeway_dialling import KEY_S, dialled
from tests.handset.test_far_end_hold import FRAME_S, connected_call

AT = 8.0  # the far end's audio from this time of the call (the call connected at 7 s)


def ticks(flow: HandsetFlow, far: np.ndarray, mic: np.ndarray) -> list:
    out: list = []
    for k in range(len(far) // FRAME_SAMPLES):
        at = AT + k * FRAME_S
        part = slice(k * FRAME_SAMPLES, (k + 1) * FRAME_SAMPLES)
        out += flow.handle(AudioFrame(at, "mic", mic[part]))
        out += flow.handle(AudioFrame(at + 0.001, "line", far[part]))
    return out


def tone_dialer(onsets: list[float], digits: str, length: int) -> np.ndarray:
    """The mouthpiece: each key at -8 dBm0 when its echo comes back (a hybrid's delay is a few ms)."""
    mic = np.zeros(length)
    for t, digit in zip(onsets, digits, strict=True):
        tone = dtmf_key(digit, KEY_S, -8.0)
        a = round(t * SAMPLE_RATE)
        mic[a : a + len(tone)] += tone
    return np.round(mic).astype(np.int16)


def test_faint_keys_with_nothing_in_the_mouthpiece_are_a_number_dialled() -> None:
    flow, _ = connected_call()
    far, _ = dialled("5551234")
    heard = [c for c in ticks(flow, far, np.zeros(len(far), dtype=np.int16)) if isinstance(c, m.ThreeWayDetected)]
    assert len(heard) == 1 and heard[0].switch_heard
    assert any("faint keys dialled" in e for e in heard[0].evidence)


def test_the_same_keys_played_into_the_mouthpiece_are_their_echo() -> None:
    flow, _ = connected_call()
    far, onsets = dialled("5551234")
    out = ticks(flow, far, tone_dialer(onsets, "5551234", len(far)))
    assert not [c for c in out if isinstance(c, m.ThreeWayDetected)]
    reported = [c for c in out if isinstance(c, m.ReportIncident) and c.incident == "mouthpiece_dtmf"]
    assert [r.detail["digit"] for r in reported] == list("5551234")
