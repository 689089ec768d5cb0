"""The SIP line's registration and what reaches it unasked, against SIPp on loopback: a registrar's digest
challenge, refresh, refusal and lapse, a silent registrar; inbound calls refused and a flood of them reported once
a window, a hostile caller name, malformed SIP, and RTP from a stranger during a call."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest

from hal.inbound_offers import CALLER_MAX, OfferReports
from hal.line import LineService
from sim import sipp
from tests.hal.test_sip_line import Recorder, line, talk, tone  # noqa: F401  (line: the fixture)

pytestmark = pytest.mark.hardware


def registered_line(line, peer: sipp.SippPeer, password: str, **settings):
    return line(
        server=f"127.0.0.1:{peer.port}",
        domain="ringfence.test",
        user="handset-a1",
        password=password,
        register=True,
        **settings,
    )


def registration_reports(sink: Recorder) -> list[LineService]:
    """The line's service events after the first, which says it is registering."""
    services = [e for e in sink.events if isinstance(e, LineService)]
    assert services[0].state == "out_of_service" and services[0].reason.startswith("registering with")
    return services[1:]


def wait_reports(sink: Recorder, count: int, seconds: float) -> list[LineService]:
    deadline = time.monotonic() + seconds
    while len([e for e in sink.events if e.kind == "line_service"]) < count + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    return registration_reports(sink)


def test_registration_answers_the_digest_challenge_and_refreshes_before_expiry(line):
    with sipp.SippPeer(sipp.registrar("handset-a1", "s3cret", expires_s=2, refresh=True)) as peer:
        _sip, sink = registered_line(line, peer, "s3cret")
        assert [e.state for e in wait_reports(sink, 1, 8)] == ["in_service"]
        assert peer.wait(10) == 0, peer.errors()  # the refresh came, was challenged, and was granted
        time.sleep(0.6)  # past the 2 s first granted: a late refresh would have been a lapse by now
    # The refresh changed nothing the handset sees: no second report, no gap in service.
    assert [e.state for e in registration_reports(sink)] == ["in_service"]


def test_a_wrong_password_is_reported_once_and_not_tried_again_at_once(line):
    """One report for the refusal; the line tries again only after register_retry_s (30 s by default), which
    tests/hal/test_sip_line_edges.py shows."""
    with sipp.SippPeer(sipp.registrar("handset-a1", "s3cret", expires_s=60, refresh=False)) as peer:
        _sip, sink = registered_line(line, peer, "wrong")
        [lost] = wait_reports(sink, 1, 8)
        assert peer.wait(10) == 0, peer.errors()
    assert lost.state == "out_of_service"
    assert lost.reason == "registration refused: 401 Unauthorized"


def test_a_registration_that_lapses_is_a_lost_line(line):
    with sipp.SippPeer(sipp.registrar("handset-a1", "s3cret", expires_s=2, refresh=False)) as peer:
        _sip, sink = registered_line(line, peer, "s3cret")
        reports = wait_reports(sink, 2, 8)
    assert [e.state for e in reports] == ["in_service", "out_of_service"]
    assert "lapsed" in reports[1].reason
    assert reports[1].at - reports[0].at == pytest.approx(2.0, abs=0.4)  # at the end of the 2 s granted


def test_a_silent_registrar_is_a_lost_line_not_a_hang(line):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        _sip, sink = line(
            server=f"127.0.0.1:{silent.getsockname()[1]}",
            domain="ringfence.test",
            password="s3cret",
            register=True,
            response_timeout_s=1.0,
        )
        [lost] = wait_reports(sink, 1, 4)
    assert lost.state == "out_of_service" and "no answer from the SIP server" in lost.reason


def test_an_inbound_call_is_refused_and_reported(line):
    sip, sink = line()
    with sipp.SippPeer(sipp.inbound_call(), call=f"127.0.0.1:{sip.local_port}") as peer:
        incoming = sink.wait_for("line_incoming")
        assert peer.wait(10) == 0, peer.errors()  # SIPp got our 603 Decline and acknowledged it
    assert "5551234" in incoming.caller
    assert sink.kinds() == ["line_incoming"]


def test_a_flood_of_inbound_calls_is_refused_every_time_and_reported_once_a_window(line):
    """A SIP scanner rings the handset 40 times in a second: every INVITE gets its 603, but the store gets two
    reports (the first at once, the other 39 as one count at the window's end), not 40."""
    sip, sink = line(inbound_report_s=2.0)
    with sipp.SippPeer(sipp.inbound_call(), call=f"127.0.0.1:{sip.local_port}", calls=40) as peer:
        first = sink.wait_for("line_incoming")
        assert peer.wait(20) == 0, peer.errors()  # all 40 refused and acknowledged
    deadline = time.monotonic() + 5
    while len(reports := [e for e in sink.events if e.kind == "line_incoming"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # nothing more may come
    reports = [e for e in sink.events if e.kind == "line_incoming"]
    assert [r.offers for r in reports] == [1, 39]
    assert reports[1].at - first.at == pytest.approx(2.0, abs=0.5)
    assert "5551234" in reports[1].caller


def test_a_hostile_callers_name_is_cut_to_what_a_record_holds():
    reports = OfferReports(window_s=60.0)
    report, started = reports.offer(1.0, "sip:" + "9" * 5000 + "@scanner")
    assert started and report is not None and len(report.caller) == CALLER_MAX
    assert reports.offer(2.0, "sip:1@x") == (None, False)
    assert reports.offer(61.0, "sip:2@x")[1]  # a new window reports at once again


def test_rtp_from_a_stranger_is_not_heard(line):
    with sipp.SippPeer(sipp.answer(None, peer_hangs_up=False)) as peer:
        sip, sink = line()
        sip.dial(peer.uri)
        sink.wait_for("line_answered")
        port = sip._rtp_port  # where our SDP told the peer to send
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
            stranger.bind(("127.0.0.2", 0))
            loud = bytes([0x80, 0, 0, 1, 0, 0, 0, 160, 0, 0, 0, 9]) + bytes([0x80]) * 160  # full-scale µ-law
            for _ in range(10):
                stranger.sendto(loud, ("127.0.0.1", port))
            talk(sip, 0.6, tone(1000, 0.6, level=2000))
        sip.hang_up()
        assert peer.wait(10) == 0, peer.errors()
    sip.close()
    assert sip.last_stats["foreign_packets"] == 10
    assert sip.last_stats["frames_in"] > 0  # the peer's own echo was heard
    assert np.abs(sink.far_audio()).max() < 4000  # and nothing of the stranger's full-scale noise


GARBAGE = """
import socket, sys, time
from hal.audio import AudioFrame
from hal.clock import MonotonicClock
from hal.sip_line import SipLine, SipSettings
events = []
line = SipLine(MonotonicClock(), SipSettings(local_address="127.0.0.1", sip_port=0))
line.start(events.append)
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as attacker:
    for junk in [b"\\x00\\xff" * 300, b"INVITE\\r\\n\\r\\n", b"SIP/2.0 200 OK\\r\\nCSeq: x\\r\\n\\r\\n"] * 10:
        attacker.sendto(junk, ("127.0.0.1", line.local_port))
time.sleep(0.5)
line.dial(sys.argv[1])
deadline = time.monotonic() + 8
while not any(e.kind == "line_hung_up" for e in events) and time.monotonic() < deadline:
    time.sleep(0.05)
line.close()
print(" ".join(e.kind for e in events if e.kind != "audio_frame"))
"""


def test_malformed_sip_is_one_line_not_a_traceback_and_the_line_still_calls():
    """In its own process, as on a device: no logging set up, so a library's traceback would reach stderr."""
    import subprocess
    import sys
    from pathlib import Path

    with sipp.SippPeer(sipp.answer(tone(440, 0.5), talk_ms=600)) as peer:
        done = subprocess.run(
            [sys.executable, "-c", GARBAGE, peer.uri],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=Path(__file__).resolve().parents[2],
            check=False,
        )
        assert peer.wait(10) == 0, peer.errors()
    kinds = ["line_progress", "line_answered", "line_media", "line_hung_up"]
    assert done.stdout.split()[:4] == kinds, done.stderr
    assert "Traceback" not in done.stderr
    complaints = done.stderr.splitlines()
    assert 1 <= len(complaints) <= 10  # thirty bad packets, one line each, at most ten a minute
    assert all(line.startswith("ringfence: aiosipua: ") for line in complaints), complaints
