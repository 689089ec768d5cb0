"""The impairing serial cable keeps a real line's timeline: never faster than the baud rate, and never idle while
bytes wait for it (however late the relay's thread wakes from pacing)."""

from __future__ import annotations

import os
import select
import time

from hal.link import open_link
from sim.serial_cable import SerialCable


def test_a_chunk_waiting_when_the_line_came_free_is_sent_from_then_not_from_when_the_relay_woke() -> None:
    cable = SerialCable(115200)
    try:
        came_free = time.monotonic() - 1.0  # the relay overslept a second; the bytes were already waiting
        line_free = cable._paced_write(cable._master_b, b"\x01" * 1152, came_free)
        assert abs(line_free - (came_free + 0.1)) < 1e-9, "1,152 bytes take 0.1 s at 115200 8N1, from the free moment"
    finally:
        cable.close()


def test_bytes_cross_no_faster_than_the_baud_rate() -> None:
    cable = SerialCable(115200)
    sender, receiver = open_link(cable.end_a, 115200), os.open(cable.end_b, os.O_RDONLY | os.O_NONBLOCK)
    try:
        frames = [bytes([1 + n % 250]) * 575 + b"\x00" for n in range(20)]  # 11,520 bytes: one second of line
        started = time.monotonic()
        sender.write(b"".join(frames))
        got = 0
        while got < 11_520 and time.monotonic() - started < 30:
            if select.select([receiver], [], [], 0.5)[0]:
                got += len(os.read(receiver, 65536))
        assert got == 11_520
        assert time.monotonic() - started >= 0.99
    finally:
        sender.close()
        os.close(receiver)
        cable.close()
