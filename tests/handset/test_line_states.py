"""What the line reports about itself: a network that gives up ringing (SIP 480 or 408) ends the attempt at
once, as our own ring timeout would; a line out of service (lost SIP registration) takes no PIN; an RFC 4733
key from the called party counts as a far key."""

from __future__ import annotations

from firmware.commands import StartTimer, TimerExpired
from firmware.handset import messages as m
from hal.events import KeyDown, OffHook
from hal.line import LineAnswered, LineDigit, LineProgress, LineService
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
