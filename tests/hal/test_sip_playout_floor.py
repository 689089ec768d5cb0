"""The SIP line's playout buffer keeps at least PLAYOUT_FLOOR_MS of audio, so a packet held up by less than that (by
the network, or by the Pi's own busy moments) still plays, and reaches the call's detectors, instead of being
dropped as late and concealed."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiortp import AdaptivePlayout
from aiortp.codecs import get_codec

from hal.sip_media import FlooredPlayout, MediaLeg, Negotiated
from hal.sip_signalling import PLAYOUT_FLOOR_MS
from sim.ports import free_port

FRAME_S = 0.02
PCMU_SILENCE = b"\xff" * 160


def stream(playout: AdaptivePlayout, clock: list[float], held_up: range, seconds: float = 8.0) -> None:
    """A 20 ms packet a frame, each just before the tick that would play it; the packets of `held_up` (frame
    numbers) come late, all at once, with the packet after them."""
    for k in range(round(seconds / FRAME_S)):
        clock[0] = k * FRAME_S
        if k not in held_up:
            for n in [*held_up, k] if k == held_up.stop else [k]:
                playout.put(n * 160, PCMU_SILENCE)
        playout.tick()


def played(kind: type[AdaptivePlayout], held_up: range) -> AdaptivePlayout:
    clock = [0.0]
    playout = kind(get_codec(0), now=lambda: clock[0])
    stream(playout, clock, held_up)
    return playout


def test_a_packet_held_up_60_ms_plays_and_is_not_concealed() -> None:
    floored = played(FlooredPlayout, range(250, 253))  # 5 s into the call, three packets 60 ms late
    assert floored.late_dropped == 0 and floored.concealed_frames == 0
    assert floored.target_ms == PLAYOUT_FLOOR_MS


def test_without_the_floor_the_same_packets_are_dropped_as_late() -> None:
    plain = played(AdaptivePlayout, range(250, 253))
    assert plain.late_dropped >= 2 and plain.concealed_frames >= 2


def test_the_floor_holds_when_jitter_asks_for_less_and_gives_way_when_it_asks_for_more() -> None:
    clock = [0.0]
    playout = FlooredPlayout(get_codec(0), now=lambda: clock[0])
    assert playout.target_ms == PLAYOUT_FLOOR_MS
    playout._jitter_ms = 60.0  # a jittery network: twice the jitter plus a frame
    assert playout.target_ms == 140.0


def test_a_floor_of_zero_leaves_aiortps_own_aim() -> None:
    clock = [0.0]
    playout = FlooredPlayout(get_codec(0), now=lambda: clock[0])
    playout.floor_ms = 0
    assert playout.target_ms == AdaptivePlayout(get_codec(0), now=lambda: clock[0]).target_ms == 20.0


@pytest.mark.parametrize("floor_ms", [PLAYOUT_FLOOR_MS, 120, 0])
def test_the_lines_rtp_session_plays_through_the_floored_buffer_at_the_configured_floor(floor_ms: float) -> None:
    async def opened() -> AdaptivePlayout | None:
        leg = MediaLeg(lambda _frame: None, lambda _digit: None, floor_ms)
        port = free_port(socket.SOCK_DGRAM)
        await leg.start("127.0.0.1", port, Negotiated(("127.0.0.1", 9), 0, 101), "127.0.0.1")
        try:
            return leg._session._playout if leg._session is not None else None
        finally:
            await leg.close()

    playout = asyncio.run(opened())
    assert isinstance(playout, FlooredPlayout) and playout.target_ms == max(floor_ms, 20.0)
