"""A virtual serial cable: two pty devices joined by a relay that paces bytes to a baud rate and injects faults.

A pty passes bytes as fast as the processes move them and ignores the baud rate, so the relay holds each
byte for its time on a real 8N1 line (10 bits per byte). Faults act on whole frames (the stretch up to a zero
byte, as the sync frames are delimited) or on the stream: corrupt a byte, drop, duplicate or swap frames,
or cut the cable for a while. A noisy line is `byte_error`: each byte on the wire is, with that probability,
flipped, dropped or doubled (a third each); a line that keeps going down is `outage_s` of silence every
`outage_every_s`. The two ends are ordinary pty paths any process can open.
"""

from __future__ import annotations

import contextlib
import math
import os
import queue
import random
import select
import termios
import threading
import time
import tty
from dataclasses import dataclass


@dataclass
class Faults:
    """Per-frame probabilities, drawn from a seeded generator so a failing run can be repeated."""

    corrupt: float = 0.0
    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    #: Per byte on the wire: flipped, dropped or duplicated (a third each).
    byte_error: float = 0.0
    #: The line goes silent (both ways) for `outage_s` at the start of every `outage_every_s`.
    outage_s: float = 0.0
    outage_every_s: float = 0.0
    seed: int = 1


@dataclass
class CableStats:
    bytes_a_to_b: int = 0
    bytes_b_to_a: int = 0
    corrupted: int = 0
    dropped: int = 0
    duplicated: int = 0
    reordered: int = 0
    bytes_damaged: int = 0


def _open_pty() -> tuple[int, str, int]:
    master, slave = os.openpty()
    tty.setraw(slave)
    attrs = termios.tcgetattr(slave)
    attrs[3] &= ~termios.ECHO
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    path = os.ttyname(slave)
    return master, path, slave


class SerialCable:
    def __init__(self, baudrate: int | None = 115200, faults: Faults | None = None) -> None:
        self.baudrate = baudrate
        self.faults = faults or Faults()
        self.stats = CableStats()
        self._rngs = {"a": random.Random(self.faults.seed), "b": random.Random(self.faults.seed + 1)}
        self._master_a, self.end_a, self._slave_a = _open_pty()
        self._master_b, self.end_b, self._slave_b = _open_pty()
        self._stop = threading.Event()
        self._cut_until = 0.0
        self._started = time.monotonic()
        self._lock = threading.Lock()
        arrivals: dict[str, queue.SimpleQueue[tuple[float, bytes] | None]] = {
            "a": queue.SimpleQueue(),
            "b": queue.SimpleQueue(),
        }
        self._threads = [
            threading.Thread(target=self._receive, args=(self._master_a, arrivals["a"]), daemon=True),
            threading.Thread(target=self._receive, args=(self._master_b, arrivals["b"]), daemon=True),
            threading.Thread(target=self._relay, args=(arrivals["a"], self._master_b, "a"), daemon=True),
            threading.Thread(target=self._relay, args=(arrivals["b"], self._master_a, "b"), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def cut(self, seconds: float) -> None:
        """Lose everything sent in either direction for this long, as if the cable were pulled."""
        self._cut_until = time.monotonic() + seconds

    def _receive(self, source: int, arrivals: queue.SimpleQueue[tuple[float, bytes] | None]) -> None:
        """Take bytes as the sender writes them, stamped with when they came: a UART sends what waits in its FIFO
        the moment the line is free, however late the relay's own thread wakes from pacing."""
        while not self._stop.is_set():
            ready, _w, _x = select.select([source], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(source, 4096)
            except OSError:
                arrivals.put(None)
                return
            arrivals.put((time.monotonic(), data))

    def _relay(self, arrivals: queue.SimpleQueue[tuple[float, bytes] | None], sink: int, side: str) -> None:
        pending = bytearray()
        held: bytes | None = None
        line_free = time.monotonic()
        while not self._stop.is_set():
            frames: list[bytes] = []
            try:
                item = arrivals.get(timeout=0.05)
            except queue.Empty:
                if not pending:
                    continue
                arrived = time.monotonic()
                frames.append(bytes(pending))  # the line went quiet: a tail with no zero byte is sent as it is
                pending.clear()
            else:
                if item is None:
                    return
                arrived, data = item
                pending += data
            while (end := pending.find(b"\x00")) >= 0:
                frames.append(bytes(pending[: end + 1]))
                del pending[: end + 1]
            if len(pending) > 8192:
                frames.append(bytes(pending))
                pending.clear()
            out: list[bytes] = []
            for frame in frames:
                frame, held = self._mangle(frame, held, out, self._rngs[side])
            for chunk in out:
                if time.monotonic() < self._cut_until or self._in_outage(time.monotonic()):
                    continue
                if self.faults.byte_error:
                    chunk = self._damage(chunk, self._rngs[side])
                line_free = self._paced_write(sink, chunk, max(line_free, arrived))
                with self._lock:
                    if side == "a":
                        self.stats.bytes_a_to_b += len(chunk)
                    else:
                        self.stats.bytes_b_to_a += len(chunk)

    def _mangle(
        self, frame: bytes, held: bytes | None, out: list[bytes], rng: random.Random
    ) -> tuple[bytes, bytes | None]:
        f = self.faults
        if f.drop and rng.random() < f.drop:
            self.stats.dropped += 1
            return frame, held
        if f.corrupt and rng.random() < f.corrupt and len(frame) > 1:
            index = rng.randrange(len(frame) - 1)
            frame = frame[:index] + bytes([frame[index] ^ (1 << rng.randrange(8))]) + frame[index + 1 :]
            self.stats.corrupted += 1
        if f.reorder and held is None and rng.random() < f.reorder:
            self.stats.reordered += 1
            return frame, frame
        out.append(frame)
        if f.duplicate and rng.random() < f.duplicate:
            out.append(frame)
            self.stats.duplicated += 1
        if held is not None:
            out.append(held)
            held = None
        return frame, held

    def _in_outage(self, now: float) -> bool:
        f = self.faults
        return bool(f.outage_s and f.outage_every_s) and (now - self._started) % f.outage_every_s < f.outage_s

    def up_seconds(self, start: float, end: float) -> float:
        """Of the monotonic interval [start, end], the seconds the line was not in a scheduled outage."""
        f = self.faults
        if not (f.outage_s and f.outage_every_s):
            return end - start

        def down_until(t: float) -> float:
            cycles, into = divmod(t - self._started, f.outage_every_s)
            return cycles * f.outage_s + min(into, f.outage_s)

        return (end - start) - (down_until(end) - down_until(start))

    def _damage(self, chunk: bytes, rng: random.Random) -> bytes:
        """Flip, drop or double bytes at the rate `byte_error`, the gaps between them drawn geometrically."""
        out = bytearray()
        position = 0
        log_keep = math.log(1.0 - self.faults.byte_error)
        while True:
            skip = int(math.log(1.0 - rng.random()) / log_keep)
            if position + skip >= len(chunk):
                out += chunk[position:]
                return bytes(out)
            out += chunk[position : position + skip]
            position += skip
            byte = chunk[position]
            action = rng.randrange(3)
            if action == 0:
                out.append(byte ^ (1 << rng.randrange(8)))
            elif action == 2:
                out += bytes((byte, byte))
            position += 1
            self.stats.bytes_damaged += 1

    def _paced_write(self, fd: int, data: bytes, start: float) -> float:
        """Deliver `data` when its last byte has crossed the line, sending from `start` (when the line was free
        and the data there); returns when the line is free again."""
        line_free = start
        if self.baudrate:
            line_free = start + len(data) * 10 / self.baudrate
            delay = line_free - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        view = memoryview(data)
        while view:
            try:
                written = os.write(fd, view)
            except BlockingIOError:
                time.sleep(0.001)
                continue
            except OSError:
                return line_free
            view = view[written:]
        return line_free

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2)
        for fd in (self._master_a, self._master_b, self._slave_a, self._slave_b):
            with contextlib.suppress(OSError):
                os.close(fd)
