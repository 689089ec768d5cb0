"""What the line reports about itself: a network that gives up ringing (SIP 480 or 408) ends the attempt at
once, as our own ring timeout would; a line out of service (lost SIP registration) takes no PIN; an RFC 4733
key from the called party counts as a far key, and counts once when its tone is in the audio too."""

from __future__ import annotations

import numpy as np

from firmware.commands import StartTimer, TimerExpired
from firmware.handset import messages as m
from firmware.handset.far_end import dsp_detectors
from firmware.handset.machine import HandsetFlow
from firmware.prompts.catalog import shipped
from hal.audio import FRAME_SAMPLES, SAMPLE_RATE, AudioFrame
from hal.events import KeyDown, OffHook
from hal.line import LineAnswered, LineDigit, LineProgress, LineService
from sim.network import dtmf
from tests.handset.test_flow_robustness import new_flow


def placing(flow):
    """Drive the flow from lift to placing, as the services would answer it; returns the event feeder."""
    timers: list[str] = []

    def go(event):
        out = flow.handle(event)
        timers.extend(c.name for c in out if isinstance(c, StartTimer))
        return out

    go(OffHook(0.1))
    go(m.PhoneChecked(0.2, True))
    for key in "1234#":
        go(KeyDown(0.3, key))
    go(m.PinChecked(0.4, "ok", "A1001"))
    go(KeyDown(0.5, "3"))
    for key in "5735550101#":
        go(KeyDown(0.6, key))
    go(m.CallChecked(0.7, "c1", True, number="5735550101", limit_s=600.0))
    for t in (1.0, 2.0, 3.0, 4.0, 5.0):  # the name recording's timers, whatever they are
        if flow.state == "placing":
            break
        go(TimerExpired(t, timers[-1]))
    assert flow.state == "placing"
    return go


def test_no_answer_from_the_network_ends_the_attempt_as_no_answer():
    flow = new_flow()
    go = placing(flow)
    out = go(LineProgress(5.5, "no_answer"))
    assert flow.state != "placing"
    assert any(isinstance(c, m.PlayPrompt) and c.id == "no_answer" for c in out)
    assert flow.end_reason == "no_answer"


def test_a_line_out_of_service_says_so_instead_of_taking_a_pin():
    flow = new_flow()
    flow.handle(LineService(0.0, "out_of_service", "registration lapsed"))
    flow.handle(OffHook(0.1))
    out = flow.handle(m.PhoneChecked(0.2, True))
    assert [c.id for c in out if isinstance(c, m.PlayPrompt)] == ["refuse.out_of_order", "hang_up_now"]
    assert flow.state == "farewell"


def test_back_in_service_the_phone_takes_a_pin_again():
    flow = new_flow()
    flow.handle(LineService(0.0, "out_of_service", "registration refused: 403 Forbidden"))
    flow.handle(LineService(1.0, "in_service"))
    flow.handle(OffHook(1.1))
    flow.handle(m.PhoneChecked(1.2, True))
    assert flow.state == "pin_entry"


def test_an_rfc4733_key_from_the_called_party_is_a_far_key():
    flow = new_flow()
    go = placing(flow)
    go(LineAnswered(6.0))
    assert flow.state == "called_party"
    go(LineDigit(7.0, "1"))  # accept: the digit arrived out of band, no detector heard it
    assert flow.state == "connected"


def _answered_with_keys_both_ways():
    """A called party on a far end that sends each key as an RFC 4733 event and leaves its tone in the audio too,
    heard by the firmware's own detectors."""
    flow = HandsetFlow(new_flow().policy, shipped(), dsp_detectors)
    go = placing(flow)
    go(LineAnswered(6.0))
    assert flow.state == "called_party"
    clock = {"t": 6.0}

    def audio(samples: np.ndarray) -> list:
        out = []
        for i in range(0, len(samples) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
            clock["t"] += FRAME_SAMPLES / SAMPLE_RATE
            out += go(AudioFrame(clock["t"], "line", samples[i : i + FRAME_SAMPLES]))
        return out

    def press(key: str, event_first: bool) -> list:
        out = go(LineDigit(clock["t"] + 0.01, key)) if event_first else []
        out += audio(dtmf(key))
        return out + ([] if event_first else go(LineDigit(clock["t"] - 0.15, key)))

    return flow, audio, press


def test_one_press_sent_both_in_band_and_as_rfc4733_counts_once():
    flow, audio, press = _answered_with_keys_both_ways()
    audio(np.zeros(8000, dtype=np.int16))  # past the introduction's start
    out = press("9", event_first=False)  # in-band heard first, then the telephone-event of the same press
    assert not any(isinstance(c, m.BlockNumber) for c in out)  # one 9 asks to confirm; it must not confirm
    out = press("9", event_first=True)  # the confirming press: event first, its tone after
    assert [c.number for c in out if isinstance(c, m.BlockNumber)] == ["5735550101"]


def test_a_far_end_that_sends_only_in_band_keys_is_still_heard():
    flow, audio, _ = _answered_with_keys_both_ways()
    audio(np.zeros(8000, dtype=np.int16))
    audio(dtmf("1"))
    assert flow.state == "connected"
