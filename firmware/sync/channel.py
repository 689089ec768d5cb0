"""Channels: whole sync messages over a Link, the same interface over serial and over TLS.

A serial channel runs the windowed, acknowledged frame protocol (firmware/sync/arq.py) on its own pump thread,
so acknowledgements flow while the session thinks. A stream channel (TLS over TCP) needs no frames of its own:
TLS already delivers bytes in order and authenticated; a u32 length prefix separates messages.
"""

from __future__ import annotations

import os
import struct
import threading
import time
from collections import deque
from typing import Protocol

from firmware.sync.arq import ArqEndpoint
from firmware.sync.framing import MAX_MESSAGE, MAX_WIRE
from hal.link import Link, LinkError

LENGTH = struct.Struct(">I")


class ChannelClosed(ConnectionError):
    """The link is gone, the peer stopped answering, or the peer started a new connection."""


class ChannelEnded(ChannelClosed):
    """The other side ended the connection in order (serial FIN): not an error. A message this side sent that
    was not answered before the end was not acted on; a new connection may send it again."""


class WrongProtocol(ChannelClosed):
    """The other side speaks TLS where this side speaks plain TCP, or the reverse: trying again will not help."""


#: The first bytes of a TLS record (handshake or alert, TLS 1.0 to 1.3), read as our big-endian length prefix.
TLS_RECORD_STARTS = (b"\x16\x03", b"\x15\x03")


class Channel(Protocol):
    @property
    def bytes_written(self) -> int: ...

    @property
    def bytes_read(self) -> int: ...

    def send(self, data: bytes) -> None: ...

    def recv(self, timeout: float) -> bytes:
        """The next whole message; TimeoutError after `timeout` seconds in which no byte of it arrived
        (a long message on a slow line is not a timeout while it keeps coming); ChannelClosed if gone."""
        ...

    def close(self) -> None: ...


class StreamChannel:
    """Length-prefixed messages over a byte stream that is already reliable and private (TLS)."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.bytes_written = 0
        self.bytes_read = 0
        self._buffer = bytearray()

    def send(self, data: bytes) -> None:
        try:
            self.link.write(LENGTH.pack(len(data)) + data)
        except LinkError as exc:
            raise ChannelClosed(str(exc)) from exc
        self.bytes_written += LENGTH.size + len(data)

    def recv(self, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        while True:
            if len(self._buffer) >= LENGTH.size:
                (length,) = LENGTH.unpack_from(self._buffer)
                if length > MAX_MESSAGE:
                    if self.bytes_read == len(self._buffer) and bytes(self._buffer[:2]) in TLS_RECORD_STARTS:
                        raise WrongProtocol(
                            f"link {self.link.url}: the other side speaks TLS and this side plain"
                            " TCP (is --plain-tcp given on one side only?)"
                        )
                    raise ChannelClosed(f"link {self.link.url}: message of {length} bytes exceeds {MAX_MESSAGE}")
                if len(self._buffer) >= LENGTH.size + length:
                    message = bytes(self._buffer[LENGTH.size : LENGTH.size + length])
                    del self._buffer[: LENGTH.size + length]
                    return message
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"link {self.link.url}: nothing received for {timeout:.1f} s")
            try:
                data = self.link.read(256 * 1024, left)
            except LinkError as exc:
                raise ChannelClosed(str(exc)) from exc
            if data:
                deadline = time.monotonic() + timeout
            self.bytes_read += len(data)
            self._buffer += data

    def close(self) -> None:
        self.link.close()


class SerialChannel:
    """Messages over a serial Link through the frame protocol, pumped by a thread of its own."""

    def __init__(self, link: Link, initiator: bool, baudrate: int = 115200) -> None:
        self.link = link
        self.bytes_written = 0
        self.bytes_read = 0
        epoch = int.from_bytes(os.urandom(4), "big") if initiator else 0
        self.arq = ArqEndpoint.for_line(initiator, epoch, baudrate)
        self._cond = threading.Condition()
        self._inbox: deque[bytes] = deque()
        self._closed: str | None = None
        #: The connection ended in order (a FIN either way), rather than failed.
        self._ended = False
        self._stop = threading.Event()
        self._max_queued = 4 * self.arq.window
        self._last_heard = time.monotonic()
        self._thread = threading.Thread(target=self._pump, name=f"serial-pump {link.url}", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        try:
            while not self._stop.is_set():
                with self._cond:
                    out = self.arq.poll(time.monotonic(), max_frames=1)
                    busy = bool(out) or self.arq.wants_to_send()
                    self._check_state()
                if out:
                    self.link.write(out)
                    self.bytes_written += len(out)
                data = self.link.read(4 * MAX_WIRE, 0 if busy else 0.01)
                if data:
                    self.bytes_read += len(data)
                    self._last_heard = time.monotonic()
                    with self._cond:
                        self.arq.receive_bytes(data, time.monotonic())
                        self._check_state()
                        self._inbox.extend(self.arq.messages())
                        self._cond.notify_all()
        except LinkError as exc:
            with self._cond:
                self._closed = str(exc)
                self._cond.notify_all()

    def _check_state(self) -> None:
        if self.arq.failed:
            self.arq.failed = False
            self._fail(f"link {self.link.url}: the other side stopped acknowledging ({self.arq.stats.last_error})")
        if self.arq.ended_by_peer:
            self.arq.ended_by_peer = False
            self._ended = True
            reason = f": {self.arq.end_reason}" if self.arq.end_reason else ""
            self._fail(f"link {self.link.url}: the other side ended the connection{reason}")
        if self._ended and self.arq.connected:
            self._ended = False  # a new connection began: its messages are for the next session, not this one
        if self.arq.reset_seen and not self.arq.initiator:
            self.arq.reset_seen = False
            self._inbox.clear()
            self._fail(f"link {self.link.url}: the other side started a new connection")
        self._cond.notify_all()

    def _fail(self, reason: str) -> None:
        self._closed = reason

    def wait_connected(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self.arq.connected:
                left = deadline - time.monotonic()
                if left <= 0 or (self._closed and self.arq.initiator):
                    return False
                self._cond.wait(min(left, 0.05))
            return True

    def reopen(self) -> None:
        """Responder side: forget a failed or replaced session and serve the next one."""
        with self._cond:
            if self._stop.is_set() or not self._thread.is_alive():
                raise ChannelClosed(self._closed or f"link {self.link.url}: closed")
            self._closed = None
            self._ended = False

    def end(self, reason: str, timeout: float = 2.0) -> None:
        """End the connection in order and tell the other side (FIN), once what was sent is acknowledged or
        `timeout` has passed; return once the FIN is on the line (or the link is gone), so a `close` right after
        cannot keep it back. Messages received and not read are dropped: they will not be answered."""
        self.flush(timeout)
        deadline = time.monotonic() + timeout
        with self._cond:
            self.arq.end(reason)
            self.arq.messages()
            self._inbox.clear()
            self._ended = True
            self._fail(f"link {self.link.url}: connection ended: {reason}")
            self._cond.notify_all()
            while self.arq.fin_pending and self._thread.is_alive() and time.monotonic() < deadline:
                self._cond.wait(0.01)

    def _raise_closed(self) -> None:
        assert self._closed is not None
        raise (ChannelEnded if self._ended else ChannelClosed)(self._closed)

    def send(self, data: bytes) -> None:
        with self._cond:
            while True:
                if self._closed:
                    self._raise_closed()
                if self.arq.queued_frames() < self._max_queued:
                    break
                self._cond.wait(0.05)
            self.arq.send_message(data)

    def recv(self, timeout: float) -> bytes:
        started = time.monotonic()
        with self._cond:
            while True:
                if self._inbox and (self._ended or not self._closed):
                    break  # what arrived before an orderly end is still read
                if self._closed:
                    self._raise_closed()
                left = max(started, self._last_heard) + timeout - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"link {self.link.url}: nothing received for {timeout:.1f} s")
                self._cond.wait(min(left, 0.05))
            return self._inbox.popleft()

    def flush(self, timeout: float) -> bool:
        """Wait until everything sent has been acknowledged (or the time is up)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.arq.queued_frames() and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
            return not self.arq.queued_frames()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.link.close()


def finish(channel: Channel, reason: str = "done") -> None:
    """Close a channel once its session is over. A serial connection is ended in order first (FIN, once what was
    sent is acknowledged), so the other side knows at once that nothing more comes rather than after its idle
    timeout; a TLS connection's end is seen when it closes."""
    try:
        if isinstance(channel, SerialChannel):
            channel.end(reason)
    finally:
        channel.close()
