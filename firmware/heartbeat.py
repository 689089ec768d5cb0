"""The runtime's heartbeat to the supervisor: proof that the event loop turns, not merely that the process exists.

The supervisor (firmware/update/supervisor.py) starts the firmware with the write end of a pipe whose number is
in RINGFENCE_HEARTBEAT_FD. The runtime's loop writes one byte to it at most every `every_s` seconds, between
events; the supervisor feeds systemd's watchdog only while beats arrive, and restarts a firmware whose loop has
stopped. A write never blocks the loop: a full pipe (the supervisor is slow to read) just skips a beat.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Protocol

HEARTBEAT_FD_ENV = "RINGFENCE_HEARTBEAT_FD"
BEAT_EVERY_S = 1.0


class Heartbeat(Protocol):
    def beat(self) -> None: ...


class NoHeartbeat:
    """Run by hand or in a test: nobody listens."""

    def beat(self) -> None:
        return None


class PipeHeartbeat:
    def __init__(self, fd: int, every_s: float = BEAT_EVERY_S, now: Callable[[], float] = time.monotonic) -> None:
        os.set_blocking(fd, False)
        self.fd: int | None = fd
        self.every_s = every_s
        self._now = now
        self._next = 0.0

    def beat(self) -> None:
        at = self._now()
        if self.fd is None or at < self._next:
            return
        self._next = at + self.every_s
        try:
            os.write(self.fd, b".")
        except BlockingIOError:
            pass
        except OSError:  # the supervisor is gone: nothing left to tell
            self.fd = None


def heartbeat_from_env() -> Heartbeat:
    value = os.environ.get(HEARTBEAT_FD_ENV, "")
    if not value.isdigit():
        return NoHeartbeat()
    try:
        return PipeHeartbeat(int(value))
    except OSError:  # the number names no open descriptor (set by hand, or inherited by a grandchild)
        return NoHeartbeat()
