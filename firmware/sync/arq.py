"""Reliable, ordered messages over frames: selective repeat sized from the line, repaired by NAK and SACK.

Sans-I/O: the owner feeds received bytes with the time, asks for bytes to write with the time, and reads
completed messages; nothing here sleeps, reads a clock or touches a port.

Why it is built this way (docs/sync-protocol.md section 2.3):
* Only what was lost is sent again. The receiver keeps frames that arrive ahead of a gap and says which it holds
  (a bitmap after the cumulative acknowledgement); the sender resends a frame once a frame it sent later is
  acknowledged, so on a serial line (which never reorders) a lost frame costs about one frame time.
* A damaged frame is answered at once with a NAK naming the frame the receiver expected next, so a loss at the
  end of a burst does not wait for a timer.
* The sender keeps at most one bandwidth-delay product of unanswered bytes on the line (a short queue, so repairs
  go out promptly) inside a window several times larger (so the line keeps going while a repair travels).
* When nothing comes back (an outage), the sender asks with a small POLL instead of resending data blindly; the
  first answer after the line returns tells it exactly what to resend.
* Frames shrink when the line damages many of them: the payload size maximises the expected goodput for the byte
  error rate seen, and grows back when the line is clean.

Opening and ending connections (SYN, SYNACK, FIN, and the connection id in every frame) is in
firmware/sync/arq_connection.py.
"""

from __future__ import annotations

import math
from collections import deque

from firmware.sync.arq_connection import ConnectionControl
from firmware.sync.arq_estimates import (
    FRAME_OVERHEAD,
    PAYLOAD_SIZES,
    ArqStats,
    Flight,
    LossEstimate,
    RoundTrip,
    wire_seconds,
)
from firmware.sync.framing import (
    FLAG_ANSWER,
    FLAG_LAST,
    FLAG_POLL,
    MAX_MESSAGE,
    MAX_PAYLOAD,
    MAX_WIRE,
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


class ArqEndpoint(ConnectionControl):
    def __init__(
        self,
        initiator: bool,
        epoch: int = 0,
        window: int = 64,
        rto: float = 1.0,
        max_timeouts: int = 12,
        max_message: int = MAX_MESSAGE,
        pipe_bytes: int = 4 * MAX_WIRE,
        frame_time: float = 0.0,
    ) -> None:
        self.initiator = initiator
        self.max_timeouts = max_timeouts
        self.max_message = max_message
        #: Set when nothing came back through max_timeouts timeouts, or a message exceeded max_message.
        self.failed = False
        self._init_connection(epoch)
        #: Frames the sender may have unacknowledged past the first missing one; the receiver keeps as many.
        self.window = window
        #: Unanswered bytes the sender keeps on the line (the bandwidth-delay product plus slack).
        self.pipe_bytes = pipe_bytes
        self.rto = rto
        self.frame_time = frame_time
        self.poll_interval = max(0.05, min(rto / 4, frame_time + 0.05))
        self.stats = ArqStats()
        self._decoder = FrameDecoder()
        self._clear()

    @classmethod
    def for_line(cls, initiator: bool, epoch: int, baudrate: int, latency: float = 0.05) -> ArqEndpoint:
        """Sized from the line: the pipe holds two round trips (a frame each way plus `latency`: the second
        absorbs the scheduling delays of busy hosts) and two frames more; the window holds four pipes of the
        smallest frames."""
        frame_time = wire_seconds(MAX_WIRE, baudrate)
        round_trip = 2 * frame_time + latency
        pipe_bytes = math.ceil(2 * round_trip * baudrate / 10) + 2 * MAX_WIRE
        window = min(1024, max(16, 4 * pipe_bytes // PAYLOAD_SIZES[0]))
        rto = 0.3 + 1.5 * wire_seconds(pipe_bytes, baudrate) + round_trip
        return cls(initiator, epoch, window=window, rto=rto, pipe_bytes=pipe_bytes, frame_time=frame_time)

    def _clear(self) -> None:
        self._outgoing: deque[bytes] = deque()
        self._offset = 0
        self._flights: dict[int, Flight] = {}
        self._resend: deque[int] = deque()
        self._order = 0
        self._next_seq = 0
        self._base = 0
        self._last_heard: float | None = None
        self._last_poll = 0.0
        self._timeouts = 0
        self._timing = RoundTrip(
            srtt=2 * self.frame_time + 0.05, rttvar=self.frame_time + 0.025, frame_time=self.frame_time
        )
        self._loss = LossEstimate()
        self._expected = 0
        self._early: dict[int, Frame] = {}
        self._fragments: list[bytes] = []
        self._fragment_bytes = 0
        self._inbox: deque[bytes] = deque()
        self._ack_due = False
        self._nak_due: int | None = None
        self._answer_due = False
        #: (transmission order, time) of each poll not answered yet, oldest first.
        self._polls: deque[tuple[int, float]] = deque(maxlen=64)
        #: The sequence number of the last undamaged DATA frame: a damaged one is most likely the next.
        self._last_data_seq = SEQ_MOD - 1
        self._synack_due = False

    @property
    def payload_size(self) -> int:
        return self._loss.best_payload()

    # -- the owner's interface ------------------------------------------------------------------------------

    def send_message(self, data: bytes) -> None:
        """Queue one message; it is cut into frames as the line takes them, sized for the line's error rate."""
        self._outgoing.append(bytes(data))

    def wants_to_send(self) -> bool:
        return self.connected and (bool(self._resend) or (bool(self._outgoing) and self._room()))

    def queued_frames(self) -> int:
        """Frames not yet acknowledged: in flight, and still to cut from queued messages (at the largest size)."""
        queued = sum(max(1, math.ceil(len(m) / MAX_PAYLOAD)) for m in self._outgoing)
        if self._outgoing:
            queued -= self._offset // MAX_PAYLOAD
        return len(self._flights) + queued

    def messages(self) -> list[bytes]:
        out = list(self._inbox)
        self._inbox.clear()
        return out

    def next_deadline(self) -> float | None:
        if self.ended:
            return None
        if self.initiator and not self.connected:
            return self._syn_due
        if self._flights and self._last_heard is not None:
            return min(self._last_heard + self.rto, max(self._last_heard, self._last_poll) + self.poll_interval)
        return None

    # -- receiving --------------------------------------------------------------------------------------------

    def receive_bytes(self, data: bytes, now: float) -> None:
        for item in self._decoder.feed(data):
            if isinstance(item, FrameError):
                self.stats.frame_errors += 1
                self.stats.last_error = item.reason
                if self.connected:
                    self._nak_due = (self._last_data_seq + 1) % SEQ_MOD
                continue
            self._on_frame(item, now)

    def _on_frame(self, frame: Frame, now: float) -> None:
        if not self._of_this_connection(frame):
            return
        self.stats.frames_received += 1
        if frame.kind is FrameKind.ACK:
            self._on_ack(frame.seq, frame.payload, now, answers_poll=bool(frame.flags & FLAG_ANSWER))
            if frame.flags & FLAG_POLL:
                self._answer_due = True
        elif frame.kind is FrameKind.NAK:
            self._on_nak(frame.seq, now)
        elif frame.kind is FrameKind.DATA:
            self._on_data(frame)

    def _on_ack(self, next_needed: int, bitmap: bytes, now: float, answers_poll: bool = False) -> None:
        self._last_heard = now
        self._timeouts = 0
        if _dist(self._base, next_needed) > _dist(self._base, self._next_seq):
            return  # names frames never sent: stale or from a confused peer
        answered_poll = self._answered_poll(now) if answers_poll else -1
        newest = -1
        while self._base != next_needed:
            flight = self._flights.pop(self._base)
            newest = max(newest, flight.first_order if flight.sacked else self._answered(flight, now))
            self._base = (self._base + 1) % SEQ_MOD
        for index in range(len(bitmap) * 8):
            if bitmap[index // 8] >> (index % 8) & 1:
                held = self._flights.get((next_needed + 1 + index) % SEQ_MOD)
                if held is not None and not held.sacked:
                    held.sacked, held.lost = True, False
                    newest = max(newest, self._answered(held, now))
        # Answers arrive in the order frames were sent: anything sent before the newest answered frame, or before
        # the poll answered, and not acknowledged was lost. Nothing is declared lost for being slow: a peer busy
        # for a moment answers late, and resending then would only fill the line with copies.
        for seq, flight in self._flights.items():
            if flight.sacked or flight.lost:
                continue
            if flight.order < newest:
                self._mark_lost(seq, flight, counts=True)
            elif flight.order < answered_poll:
                self._mark_lost(seq, flight, counts=False)

    def _answered_poll(self, now: float) -> int:
        """The order of the poll an answer most likely answers: the newest sent at least the shortest round trip
        seen before it (after an outage the polls sent into it were lost). Everything sent before that poll has
        arrived or is lost; older polls need no answer any more."""
        answered = -1
        while self._polls and self._polls[0][1] <= now - self._timing.shortest:
            answered = self._polls.popleft()[0]
        return answered

    def _answered(self, flight: Flight, now: float) -> int:
        """Learn from an answered frame; returns the transmission order it proves arrived. For a frame sent
        more than once that is its first transmission's: which copy arrived is unknown, and assuming the later
        one would declare frames still on the line lost."""
        if flight.sends == 1 and not flight.lost:
            self._timing.sample(now - flight.first_sent)
            self._loss.note(False, len(flight.frame.payload) + FRAME_OVERHEAD)
        return flight.first_order

    def _on_nak(self, seq: int, now: float) -> None:
        """The receiver saw a damaged frame while it needed `seq`: if that frame went out once, more than half a
        frame time ago, it is the damaged one; a frame already resent is left to its resend unless that is
        overdue too."""
        self._last_heard = now
        flight = self._flights.get(seq)
        if flight is None or flight.sacked or flight.lost:
            return
        if flight.last_sent <= now - (self.frame_time / 2 if flight.sends == 1 else self._timing.bound):
            self._mark_lost(seq, flight, counts=True)

    def _mark_lost(self, seq: int, flight: Flight, counts: bool) -> None:
        flight.lost = True
        if counts:
            self._loss.note(True, len(flight.frame.payload) + FRAME_OVERHEAD)
        self._resend.append(seq)

    def _on_data(self, frame: Frame) -> None:
        self._ack_due = True
        self._last_data_seq = frame.seq
        ahead = _dist(self._expected, frame.seq)
        if ahead != 0:
            if ahead < self.window:
                self.stats.frames_out_of_order += 1
                self._early.setdefault(frame.seq, frame)
            return
        while True:
            self._expected = (self._expected + 1) % SEQ_MOD
            self._take(frame)
            following = self._early.pop(self._expected, None)
            if following is None:
                return
            frame = following

    def _take(self, frame: Frame) -> None:
        self._fragments.append(frame.payload)
        self._fragment_bytes += len(frame.payload)
        if frame.flags & FLAG_LAST:
            self._inbox.append(b"".join(self._fragments))
            self._fragments, self._fragment_bytes = [], 0
        elif self._fragment_bytes > self.max_message:
            self._fragments, self._fragment_bytes = [], 0
            self.failed = True
            self.stats.last_error = f"a message longer than {self.max_message} bytes"

    def _ack_frame(self, kind: FrameKind = FrameKind.ACK, flags: int = 0) -> bytes:
        bits = bytearray((self.window + 7) // 8)
        for seq in self._early:
            index = _dist(self._expected, seq) - 1
            bits[index // 8] |= 1 << (index % 8)
        return encode(Frame(kind, self.conn, self._expected, flags, bytes(bits).rstrip(b"\x00")))

    # -- sending ----------------------------------------------------------------------------------------------

    def _in_flight_bytes(self) -> int:
        return sum(len(f.frame.payload) + FRAME_OVERHEAD for f in self._flights.values() if not (f.sacked or f.lost))

    def _room(self) -> bool:
        return _dist(self._base, self._next_seq) < self.window and self._in_flight_bytes() < self.pipe_bytes

    def _cut_frame(self) -> Frame:
        message = self._outgoing[0]
        piece = message[self._offset : self._offset + self.payload_size]
        self._offset += len(piece)
        last = self._offset >= len(message)
        if last:
            self._outgoing.popleft()
            self._offset = 0
        frame = Frame(FrameKind.DATA, self.conn, self._next_seq, FLAG_LAST if last else 0, piece)
        self._next_seq = (self._next_seq + 1) % SEQ_MOD
        return frame

    def poll(self, now: float, max_frames: int | None = None) -> bytes:
        """The bytes to write now: connection control, NAK and ACK, repairs, then new data within the pipe."""
        out = bytearray(self._control_frames(now))
        if not self.connected:
            return bytes(out)
        if self._nak_due is not None:
            out += encode(Frame(FrameKind.NAK, self.conn, self._nak_due))
            self.stats.naks_sent += 1
            self._nak_due = None
            self._ack_due = True
        if self._ack_due or self._answer_due:
            out += self._ack_frame(flags=FLAG_ANSWER if self._answer_due else 0)
            self._ack_due = self._answer_due = False
        if self._flights and not self._check_timers(now, out):
            return bytes(out)
        budget = max_frames if max_frames is not None else self.window
        while self._resend and budget > 0:
            flight = self._flights.get(self._resend.popleft())
            if flight is None or flight.sacked or not flight.lost:
                continue
            flight.lost, flight.last_sent, flight.order = False, now, self._order
            self._order += 1
            flight.sends += 1
            out += encode(flight.frame)
            self.stats.frames_resent += 1
            budget -= 1
        while self._outgoing and budget > 0 and self._room():
            frame = self._cut_frame()
            self._flights[frame.seq] = Flight(frame, now, now, self._order, self._order)
            self._order += 1
            if self._last_heard is None or len(self._flights) == 1:
                self._last_heard = now
            out += encode(frame)
            self.stats.frames_sent += 1
            self.stats.payload_bytes_sent += len(frame.payload)
            budget -= 1
        return bytes(out)

    def _check_timers(self, now: float, out: bytearray) -> bool:
        """Poll a silent peer (its answer says what to resend); count each `rto` of silence, and after
        max_timeouts of them give up. False when the link is declared dead."""
        heard = self._last_heard if self._last_heard is not None else now
        if now >= heard + self.rto:
            self._timeouts += 1
            self.stats.timeouts += 1
            if self._timeouts > self.max_timeouts:
                self.failed = True
                self.stats.last_error = f"no acknowledgement after {self.max_timeouts} timeouts"
                self._outgoing.clear()
                self._offset = 0
                self._flights.clear()
                self._resend.clear()
                if not self.initiator:
                    self.connected = False
                    self._ended_epoch = self.epoch  # a device that comes back to it is told it ended
                    self.end_reason = self.stats.last_error
                return False
            self._last_heard = now
        if now >= max(heard, self._last_poll) + self.poll_interval and not self._resend:
            out += self._ack_frame(flags=FLAG_POLL)
            self._polls.append((self._order, now))
            self._order += 1
            self._last_poll = now
            self.stats.polls_sent += 1
        return True
