"""What the serial ARQ (firmware/sync/arq.py) learns about the line as it sends: round-trip time, the share of
frames damaged, and so the frame size that carries the most data; and the record it keeps of each frame in
flight. Pure arithmetic on numbers the ARQ hands in: no clock, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from firmware.sync.framing import MAX_PAYLOAD, Frame

#: Payload sizes the sender chooses from as the line's error rate changes.
PAYLOAD_SIZES = (128, 192, 256, 384, 512, 768, 1024)
#: Bytes a DATA frame costs on the line beyond its payload: header, CRC, COBS code bytes, delimiter.
FRAME_OVERHEAD = 5 + 4 + 1 + 1


def wire_seconds(nbytes: float, baudrate: int) -> float:
    """Time on the line at 8N1 (10 bits a byte)."""
    return nbytes * 10 / baudrate


@dataclass
class ArqStats:
    frames_sent: int = 0
    frames_resent: int = 0
    frames_received: int = 0
    frame_errors: int = 0
    frames_out_of_order: int = 0
    payload_bytes_sent: int = 0
    naks_sent: int = 0
    polls_sent: int = 0
    timeouts: int = 0
    last_error: str = ""


@dataclass
class Flight:
    frame: Frame
    first_sent: float
    last_sent: float
    #: Position of the first and of the latest transmission among all of this sender's transmissions.
    first_order: int
    order: int
    sends: int = 1
    sacked: bool = False
    lost: bool = False


@dataclass
class LossEstimate:
    """Exponentially weighted share of DATA frames the line damaged, and their mean size on the wire."""

    share: float = 0.0
    size: float = float(MAX_PAYLOAD + FRAME_OVERHEAD)
    weight: float = 1 / 64

    def note(self, lost: bool, wire_bytes: int) -> None:
        self.share += self.weight * ((1.0 if lost else 0.0) - self.share)
        self.size += self.weight * (wire_bytes - self.size)

    def best_payload(self) -> int:
        """The payload size with the highest expected goodput at the byte error rate the share implies."""
        byte_error = -math.log(max(1e-12, 1.0 - min(self.share, 0.9))) / self.size
        return max(PAYLOAD_SIZES, key=lambda n: n / (n + FRAME_OVERHEAD) * math.exp(-byte_error * (n + FRAME_OVERHEAD)))


@dataclass
class RoundTrip:
    """Round-trip estimate (smoothed, as TCP does) from frames acknowledged after a single send."""

    srtt: float
    rttvar: float
    frame_time: float
    samples: int = 0
    #: The shortest round trip seen: no answer can come sooner.
    shortest: float = 0.0

    def sample(self, rtt: float) -> None:
        self.shortest = rtt if self.samples == 0 else min(self.shortest, rtt)
        if self.samples == 0:
            self.srtt, self.rttvar = rtt, rtt / 2
        else:
            self.rttvar += 0.25 * (abs(self.srtt - rtt) - self.rttvar)
            self.srtt += 0.125 * (rtt - self.srtt)
        self.samples += 1

    @property
    def bound(self) -> float:
        """A frame unanswered for longer than this, while answers arrive, was lost."""
        return self.srtt + 4 * self.rttvar + self.frame_time
