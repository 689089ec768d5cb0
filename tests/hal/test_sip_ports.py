"""RTP port pairs held from the offer to the answer: two user agents on one host never get the same pair."""

from __future__ import annotations

import random
import socket

import pytest

from hal.sip_ports import HeldPorts


def free_pair_range() -> tuple[int, int]:
    """A range holding exactly one even/odd pair that is free right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("", 0))
            port = probe.getsockname()[1] & ~1
        try:
            with (
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a,
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b,
            ):
                a.bind(("", port))
                b.bind(("", port + 1))
        except OSError:
            continue
        return port, port + 2
    raise AssertionError("no free UDP port pair on this host")


def test_a_held_pair_is_not_offered_to_a_second_user_agent():
    low, high = free_pair_range()
    first, second = HeldPorts((low, high)), HeldPorts((low, high))
    port = first.take()
    assert port == low
    with pytest.raises(OSError, match=f"no free RTP port pair in {low}-{high}"):
        second.take()  # aiortp's allocator would have handed out the same pair
    first.release_for_use(port)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as media:
        media.bind(("", port))  # released: the media session can bind it
    assert second.take() == port
    second.close()


def test_the_search_starts_at_a_random_even_port():
    held = [HeldPorts((20000, 30000), random.Random(seed)) for seed in range(2)]
    starts = {ports.take() for ports in held}
    for ports in held:
        ports.close()
    assert len(starts) == 2 and all(p % 2 == 0 and 20000 <= p < 30000 for p in starts)
