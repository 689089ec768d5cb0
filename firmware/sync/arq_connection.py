"""Opening and ending a serial connection (docs/sync-protocol.md section 2.2): SYN, SYNACK, FIN, connection ids.

The initiator opens a connection with SYN carrying a random epoch; the responder answers SYNACK and starts a
new, empty connection, so a device that restarts mid-session never mixes old frames into a new session. Every
frame names its connection in one byte. The responder chooses it and says it in the SYNACK: the low byte of the
epoch, as peers before the SYNACK carried the id have always used, unless that is the previous connection's id
(one random epoch in 256), then the next byte. So the previous connection's frames, which may still wait in a
port's buffer (a reply the restarted device never read, a request the server never read), are never taken as
the new connection's; and a peer that still derives the id from its epoch only fails to connect in that one case
in 256, and tries again, instead of mixing sessions.

Either side may end a connection in order with FIN (naming the connection's epoch, and why). The peer learns
that nothing more will be answered on it: a FIN is not an error. A responder answers any later frame of a
connection it ended, and a SYN of that epoch, with FIN again, so a lost FIN costs one more frame rather than a
dead link.

Sans-I/O like the rest of the frame protocol: ArqEndpoint (firmware/sync/arq.py) mixes this in.
"""

from __future__ import annotations

from collections import deque

from firmware.sync.framing import Frame, FrameKind, encode

#: The longest reason a FIN carries (bytes of UTF-8).
MAX_REASON = 200


def _printable(raw: bytes) -> str:
    """A peer's words, made safe for one log line."""
    text = raw[:MAX_REASON].decode("utf-8", errors="replace")
    return "".join(c if c.isprintable() else "?" for c in text)


class ConnectionControl:
    """Which connection frames belong to, and whether it is open; the endpoint's data state lives in ArqEndpoint."""

    initiator: bool
    rto: float
    _inbox: deque[bytes]
    _synack_due: bool

    def _init_connection(self, epoch: int) -> None:
        self.epoch = epoch
        #: The connection id in every frame's header: the responder's choice, learnt by the initiator from SYNACK.
        self.conn = epoch & 0xFF
        self.connected = False
        #: Set when a peer's SYN started a new connection; the owner clears it after starting a new session.
        self.reset_seen = False
        #: Set when the peer ended the connection with FIN; the owner clears it (a responder then waits for SYN).
        self.ended_by_peer = False
        #: Why the connection ended, in the words of the side that ended it.
        self.end_reason = ""
        #: Set on the initiator once its connection ended (either side): it never opens another one.
        self.ended = False
        self._ended_epoch: int | None = None
        self._fin_due = False
        self._syn_due = 0.0

    def _clear(self) -> None:
        """Forget every frame and message of the connection (ArqEndpoint's)."""
        raise NotImplementedError

    def end(self, reason: str = "") -> None:
        """End the connection in order: the next `poll` tells the peer (FIN, with `reason`); whatever is unsent is
        dropped, and messages already received stay readable."""
        if not self.connected:
            return
        self._forget_connection()
        self.end_reason = reason
        self._fin_due = True

    @property
    def fin_pending(self) -> bool:
        """A FIN is due and not yet handed to the line by `poll`."""
        return self._fin_due

    def _forget_connection(self) -> None:
        inbox = self._inbox
        self._clear()
        self._inbox = inbox
        self.connected = False
        self._ended_epoch = self.epoch
        self.ended = self.initiator

    def _of_this_connection(self, frame: Frame) -> bool:
        """Handle SYN, SYNACK and FIN; True only for another frame of the open connection."""
        if frame.kind is FrameKind.SYN:
            self._on_syn(frame)
            return False
        mine = frame.payload[:4] == self.epoch.to_bytes(4, "big")
        if frame.kind is FrameKind.SYNACK:
            if self.initiator and mine and len(frame.payload) == 4 and not self.connected and not self.ended:
                self.conn = frame.conn
                self.connected = True
            return False
        if frame.kind is FrameKind.FIN:
            if mine and (self.connected or (self.initiator and not self.ended)):
                self._forget_connection()
                self.ended_by_peer = True
                self.end_reason = _printable(frame.payload[4:])
            return False
        if not self.connected:
            if not self.initiator and self._ended_epoch is not None and frame.conn == self.conn:
                self._fin_due = True  # the peer missed our FIN: say it again
            return False
        return frame.conn == self.conn

    def _on_syn(self, frame: Frame) -> None:
        if self.initiator or len(frame.payload) != 4:
            return
        epoch = int.from_bytes(frame.payload, "big")
        if epoch == self._ended_epoch and not self.connected:
            self._fin_due = True  # a SYN of the connection this side ended (a copy that was on the line)
            return
        if not self.connected or epoch != self.epoch:
            self.reset_seen = self.connected
            self.epoch = epoch
            self.conn = epoch & 0xFF if epoch & 0xFF != self.conn else (self.conn + 1) % 256
            self.end_reason = ""
            self._clear()
            self.connected = True
        self._synack_due = True

    def _control_frames(self, now: float) -> bytes:
        """FIN, SYN or SYNACK due now."""
        out = bytearray()
        if self._fin_due:
            ended = self._ended_epoch if self._ended_epoch is not None else self.epoch
            reason = self.end_reason.encode()[:MAX_REASON]
            out += encode(Frame(FrameKind.FIN, self.conn, 0, 0, ended.to_bytes(4, "big") + reason))
            self._fin_due = False
        if self.ended:
            return bytes(out)
        if self.initiator and not self.connected and now >= self._syn_due:
            out += encode(Frame(FrameKind.SYN, 0, 0, 0, self.epoch.to_bytes(4, "big")))
            self._syn_due = now + self.rto
        if self._synack_due:
            out += encode(Frame(FrameKind.SYNACK, self.conn, 0, 0, self.epoch.to_bytes(4, "big")))
            self._synack_due = False
        return bytes(out)
