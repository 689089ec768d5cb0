"""A far end whose RTP source changes mid-call (a conference bridge, a transfer or an announcement takes over the
stream): the call's media report counts every source's packets and how often the source changed. aiortp counts
each source afresh, so before, the report told of the last source's packets only."""

from __future__ import annotations

import asyncio
import socket
import struct

from hal.sip_media import MediaLeg, Negotiated
from sim.ports import free_port

PCMU_SILENCE = b"\xff" * 160


def rtp(seq: int, ssrc: int) -> bytes:
    """One 20 ms PCMU packet (RFC 3550 header: version 2, payload type 0)."""
    return struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, (seq * 160) & 0xFFFFFFFF, ssrc) + PCMU_SILENCE


def received(sources: list[tuple[int, int, int]]) -> dict[str, float | int]:
    """Each (ssrc, first sequence number, packets) sent in turn, 20 ms apart, to a call's media leg; its stats."""

    async def call() -> dict[str, float | int]:
        leg = MediaLeg(lambda _frame: None, lambda _digit: None)
        port = free_port(socket.SOCK_DGRAM)
        await leg.start("127.0.0.1", port, Negotiated(("127.0.0.1", 9), 0, 101), "127.0.0.1")
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            for ssrc, first, count in sources:
                for seq in range(first, first + count):
                    sender.sendto(rtp(seq, ssrc), ("127.0.0.1", port))
                    await asyncio.sleep(0.02)
            await asyncio.sleep(0.2)
        finally:
            sender.close()
            await leg.close()
        return leg.stats()

    return asyncio.run(call())


def test_a_source_that_changes_mid_call_is_counted_with_every_packet() -> None:
    stats = received([(0x1111, 100, 40), (0x2222, 7000, 25)])
    assert stats["source_changes"] == 1
    assert stats["packets_received"] == 65 and stats["packets_lost"] == 0, stats


def test_one_source_is_no_change() -> None:
    stats = received([(0x1111, 100, 30)])
    assert stats["source_changes"] == 0 and stats["packets_received"] == 30, stats


def test_losses_of_an_earlier_source_are_kept() -> None:
    stats = received([(0x1111, 100, 10), (0x1111, 115, 10), (0x3333, 500, 10)])  # five lost before the change
    assert stats["source_changes"] == 1
    assert stats["packets_received"] == 30 and stats["packets_lost"] == 5, stats
