"""RTP port pairs for the SIP line, held from the INVITE until the media starts.

aiortp's PortAllocator tests a port by binding and closing it, always from the bottom of the range, so the
port our SDP offers is free for anyone else until the far end answers: a second user agent on the same host
(another program, or a second test process) picks the same pair and its far end's audio reaches us. Here the
pair stays bound until just before aiortp binds it, and the search starts at a random even port, so the ports a
handset offers are neither shared nor predictable (a guessed port is how RTP is injected into a call).
"""

from __future__ import annotations

import random
import socket


class HeldPorts:
    """Even RTP ports (RTCP on the odd one above) within `port_range`, each held bound until `release_for_use`."""

    def __init__(self, port_range: tuple[int, int], rng: random.Random | None = None) -> None:
        low, high = port_range
        self._first = low + low % 2
        self._count = max(0, (high - self._first) // 2)
        self._rng = rng or random.SystemRandom()
        self._held: dict[int, tuple[socket.socket, socket.socket]] = {}

    def take(self) -> int:
        """Bind a free pair and keep it bound; OSError when the whole range is taken."""
        start = self._rng.randrange(self._count) if self._count else 0
        for i in range(self._count):
            port = self._first + 2 * ((start + i) % self._count)
            if port in self._held:
                continue
            pair = _bind_pair(port)
            if pair is not None:
                self._held[port] = pair
                return port
        raise OSError(f"no free RTP port pair in {self._first}-{self._first + 2 * self._count}")

    def release_for_use(self, port: int) -> None:
        """Let go of the pair so the media session can bind it now (or give it back after a failed call)."""
        pair = self._held.pop(port, None)
        if pair is not None:
            for sock in pair:
                sock.close()

    def close(self) -> None:
        for port in list(self._held):
            self.release_for_use(port)


def _bind_pair(port: int) -> tuple[socket.socket, socket.socket] | None:
    rtp, rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rtp.bind(("", port))
        rtcp.bind(("", port + 1))
    except OSError:
        rtp.close()
        rtcp.close()
        return None
    return rtp, rtcp
