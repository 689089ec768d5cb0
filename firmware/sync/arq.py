"""Reliable, ordered messages over frames: a sliding window with cumulative acknowledgement.

Sans-I/O: the owner feeds received bytes with the time, asks for bytes to write with the time, and reads
completed messages; nothing here sleeps, reads a clock or touches a port. A window of several frames keeps the
line busy while acknowledgements travel back. The receiver keeps frames that arrive early (within the window)
and acknowledges the next frame it still needs; two duplicate acknowledgements make the sender resend just
that missing frame (fast retransmit); when nothing is acknowledged for `rto` seconds it resends every
unacknowledged frame (the line may have been cut).

The initiator opens a connection with SYN carrying a random epoch; the responder answers SYNACK and starts a
new, empty connection, so a device that restarts mid-session never mixes old frames into a new session.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from firmware.sync.framing import (
    FLAG_LAST,
    MAX_MESSAGE,
    MAX_PAYLOAD,
    Frame,
    FrameDecoder,
    FrameError,
    FrameKind,
    encode,
)

SEQ_MOD = 1 << 16


def _dist(a: int, b: int) -> int:
    """How many frames b is ahead of a, modulo the sequence space."""
    return (b - a) % SEQ_MOD


@dataclass
class ArqStats:
    frames_sent: int = 0
    frames_resent: int = 0
    frames_received: int = 0
    frame_errors: int = 0
    frames_out_of_order: int = 0
    payload_bytes_sent: int = 0
    last_error: str = ""


class ArqEndpoint:
    def __init__(self, initiator: bool, epoch: int = 0, window: int = 16, rto: float = 1.0,
                 max_timeouts: int = 12, max_message: int = MAX_MESSAGE) -> None:
        self.initiator = initiator
        self.max_message = max_message
        self.max_timeouts = max_timeouts
        #: Set when a frame went unacknowledged through max_timeouts resends: the peer is gone.
        self.failed = False
        self.epoch = epoch
        self.window = window
        self.rto = rto
        self.connected = False
        #: Set when a peer's SYN started a new connection; the owner clears it after starting a new session.
        self.reset_seen = False
        self.stats = ArqStats()
        self._decoder = FrameDecoder()
        self._syn_due = 0.0
        self._clear()

    def _clear(self) -> None:
        self._pending: deque[Frame] = deque()
        self._unacked: deque[Frame] = deque()
        self._next_seq = 0
        self._base = 0
        self._timer_started: float | None = None
        self._dup_acks = 0
        self._timeouts = 0
        self._expected = 0
        self._early: dict[int, Frame] = {}
        self._resend: deque[Frame] = deque()
        self._fragments: list[bytes] = []
        self._fragment_bytes = 0
        self._inbox: deque[bytes] = deque()
        self._ack_due = False
        self._synack_due = False

    @property
    def conn(self) -> int:
        return self.epoch & 0xFF

    def send_message(self, data: bytes) -> None:
        """Queue one message; it is cut into frames of at most MAX_PAYLOAD bytes."""
        pieces = [data[i:i + MAX_PAYLOAD] for i in range(0, len(data), MAX_PAYLOAD)] or [b""]
        for index, piece in enumerate(pieces):
            flags = FLAG_LAST if index == len(pieces) - 1 else 0
            self._pending.append(Frame(FrameKind.DATA, self.conn, self._next_seq, flags, piece))
            self._next_seq = (self._next_seq + 1) % SEQ_MOD

    def wants_to_send(self) -> bool:
        return self.connected and (bool(self._resend) or (bool(self._pending) and len(self._unacked) < self.window))

    def queued_frames(self) -> int:
        return len(self._pending) + len(self._unacked)

    def messages(self) -> list[bytes]:
        out = list(self._inbox)
        self._inbox.clear()
        return out

    def receive_bytes(self, data: bytes, now: float) -> None:
        for item in self._decoder.feed(data):
            if isinstance(item, FrameError):
                self.stats.frame_errors += 1
                self.stats.last_error = item.reason
                continue
            self._on_frame(item, now)

    def _on_frame(self, frame: Frame, now: float) -> None:
        if frame.kind is FrameKind.SYN:
            self._on_syn(frame)
            return
        if frame.kind is FrameKind.SYNACK:
            if self.initiator and frame.payload == self.epoch.to_bytes(4, "big"):
                self.connected = True
            return
        if frame.conn != self.conn or not self.connected:
            return
        self.stats.frames_received += 1
        if frame.kind is FrameKind.ACK:
            self._on_ack(frame.seq, now)
        elif frame.kind is FrameKind.DATA:
            self._on_data(frame)

    def _on_syn(self, frame: Frame) -> None:
        if self.initiator or len(frame.payload) != 4:
            return
        epoch = int.from_bytes(frame.payload, "big")
        if not self.connected or epoch != self.epoch:
            self.reset_seen = self.connected
            self.epoch = epoch
            self._clear()
            self.connected = True
        self._synack_due = True

    def _on_ack(self, next_expected: int, now: float) -> None:
        advanced = _dist(self._base, next_expected)
        if advanced == 0:
            if self._unacked:
                self._dup_acks += 1
                if self._dup_acks == 2:
                    self.stats.frames_resent += 1
                    self._resend.append(self._unacked[0])
            return
        if advanced > len(self._unacked):
            return
        for _ in range(advanced):
            self._unacked.popleft()
        self._base = next_expected
        self._dup_acks = 0
        self._timeouts = 0
        self._timer_started = now if self._unacked else None

    def _on_data(self, frame: Frame) -> None:
        self._ack_due = True
        if frame.seq != self._expected:
            self.stats.frames_out_of_order += 1
            if 0 < _dist(self._expected, frame.seq) < 2 * self.window:
                self._early[frame.seq] = frame
            return
        while True:
            self._expected = (self._expected + 1) % SEQ_MOD
            self._fragments.append(frame.payload)
            self._fragment_bytes += len(frame.payload)
            if frame.flags & FLAG_LAST:
                self._inbox.append(b"".join(self._fragments))
                self._fragments, self._fragment_bytes = [], 0
            elif self._fragment_bytes > self.max_message:
                self._fragments, self._fragment_bytes = [], 0
                self.failed = True
                self.stats.last_error = f"a message longer than {self.max_message} bytes"
            following = self._early.pop(self._expected, None)
            if following is None:
                return
            frame = following

    def _go_back(self, now: float) -> None:
        """Resend every unacknowledged frame, in order (the receiver drops any it already holds)."""
        self.stats.frames_resent += len(self._unacked)
        self._resend.clear()
        self._resend.extend(self._unacked)
        self._timer_started = now
        self._dup_acks = 0

    def next_deadline(self) -> float | None:
        if self.initiator and not self.connected:
            return self._syn_due
        if self._timer_started is not None:
            return self._timer_started + self.rto
        return None

    def poll(self, now: float, max_frames: int | None = None) -> bytes:
        """The bytes to write now: connection control, an acknowledgement, then data within the window."""
        out = bytearray()
        if self.initiator and not self.connected:
            if now >= self._syn_due:
                out += encode(Frame(FrameKind.SYN, self.conn, 0, 0, self.epoch.to_bytes(4, "big")))
                self._syn_due = now + self.rto
            return bytes(out)
        if self._synack_due:
            out += encode(Frame(FrameKind.SYNACK, self.conn, 0, 0, self.epoch.to_bytes(4, "big")))
            self._synack_due = False
        if not self.connected:
            return bytes(out)
        if self._ack_due:
            out += encode(Frame(FrameKind.ACK, self.conn, self._expected))
            self._ack_due = False
        if self._timer_started is not None and now >= self._timer_started + self.rto:
            self._timeouts += 1
            if self._timeouts > self.max_timeouts:
                self.failed = True
                self.stats.last_error = f"no acknowledgement after {self.max_timeouts} resends"
                self._pending.clear()
                self._unacked.clear()
                self._resend.clear()
                self._timer_started = None
                if not self.initiator:
                    self.connected = False
                return bytes(out)
            self._go_back(now)
        budget = max_frames if max_frames is not None else self.window
        while self._resend and budget > 0:
            frame = self._resend.popleft()
            if _dist(self._base, frame.seq) < len(self._unacked):
                out += encode(frame)
                budget -= 1
        while self._pending and len(self._unacked) < self.window and budget > 0:
            frame = self._pending.popleft()
            out += encode(frame)
            self._unacked.append(frame)
            self.stats.frames_sent += 1
            self.stats.payload_bytes_sent += len(frame.payload)
            if self._timer_started is None:
                self._timer_started = now
            budget -= 1
        return bytes(out)
