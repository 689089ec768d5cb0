"""One flash over a paced link, timed, and the named peer on the same link: the real flasher and device receiver
over 115200-baud serial (a paced pty pair) or paced loopback TCP, split into transfer and the device's install;
the peer is a raw copy of the same file with no protocol. Apart from bench/flash.py, which decides what to flash
and reports it."""

from __future__ import annotations

import os
import socket
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path
from typing import Self

from firmware.tech.home import DeviceHome
from firmware.update import bundle as bundle_mod
from firmware.update import receiver
from firmware.update.flasher import Flasher
from hal.link import TcpListener
from sim.serial_cable import SerialCable
from sim.tcp_proxy import ProxyFaults, TcpFaultProxy

ACCESS_KEY = os.urandom(32)
BAUD = 115200
TCP_BITS_PER_S = 20_000_000


class InstallTimer:
    """Times everything the device does after the last byte (patch, verify, slot write, read-back, unpack)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        #: Of which unpacking wheels (pip install --target): the rest is patch, verify, slot write and read-back.
        self.unpack_seconds = 0.0
        self._real = receiver.FlashReceiver._install
        self._unpack = receiver.unpack_wheels

    def __enter__(self) -> Self:
        real, unpack, timer = self._real, self._unpack, self

        def timed_unpack(slot_dir: Path, header: bundle_mod.Header) -> None:
            started = time.monotonic()
            try:
                unpack(slot_dir, header)
            finally:
                timer.unpack_seconds += time.monotonic() - started

        receiver.unpack_wheels = timed_unpack

        def timed(self: receiver.FlashReceiver, blob_id: str) -> object:
            started = time.monotonic()
            try:
                return real(self, blob_id)
            finally:
                timer.seconds += time.monotonic() - started

        receiver.FlashReceiver._install = timed  # type: ignore[assignment,method-assign]
        return self

    def __exit__(self, *_: object) -> None:
        receiver.FlashReceiver._install = self._real  # type: ignore[method-assign]
        receiver.unpack_wheels = self._unpack


def paced_relay(target_port: int) -> TcpFaultProxy:
    """A loopback link that holds every byte for its time at TCP_BITS_PER_S, both ways."""
    rate = TCP_BITS_PER_S / 8
    return TcpFaultProxy(target_port, ProxyFaults(rate=rate, upstream_rate=rate))


def progress_line(label: str) -> Callable[[int, int], None]:
    """A progress line, rewritten at most twice a second while a flash runs."""
    last = [0.0]

    def show(sent: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.5 or sent == total:
            last[0] = now
            end = "\n" if sent == total else ""
            print(f"\r  {label}: {sent}/{total} bytes ({sent / max(1, total):.0%})", end=end, flush=True)

    return show


def flash_once(path: Path, url: str, label: str) -> tuple[float, float, float]:
    """(transfer, install, of which unpack) seconds of one flash that must end installed."""
    with InstallTimer() as timer:
        outcome = Flasher(path, ACCESS_KEY, baudrate=BAUD, timeout=30, retries=0).flash(url, progress_line(label))
    if outcome.status != "installed":
        raise RuntimeError(f"flash failed: {outcome.status}: {outcome.message}")
    return outcome.seconds - timer.seconds, timer.seconds, timer.unpack_seconds


def serial_run(path: Path, home: DeviceHome, label: str) -> tuple[float, float, float, int]:
    cable = SerialCable(baudrate=BAUD)
    stop = threading.Event()
    thread = threading.Thread(target=receiver.serve, args=(cable.end_b, home, stop, 30.0, BAUD), daemon=True)
    thread.start()
    try:
        seconds, install, unpack = flash_once(path, cable.end_a, label)
    finally:
        stop.set()
        thread.join(timeout=0.5)  # a daemon thread: it may still wait out its session timeout
        cable.close()
    return seconds, install, unpack, cable.stats.bytes_a_to_b + cable.stats.bytes_b_to_a


def serial_raw(path: Path) -> tuple[float, int]:
    """The peer: the file's bytes written straight into the paced cable and read at the other end."""
    cable = SerialCable(baudrate=BAUD)
    # The simulated cable passes bytes on at each zero byte (the sync frames' delimiter): one ends the copy.
    data = path.read_bytes() + b"\x00"
    got = bytearray()
    reader = os.open(cable.end_b, os.O_RDONLY | os.O_NOCTTY)
    writer = os.open(cable.end_a, os.O_WRONLY | os.O_NOCTTY)
    for fd in (reader, writer):  # as pyserial opens a port: raw, or the line discipline eats and edits bytes
        tty.setraw(fd)
    started = time.monotonic()

    def read_all() -> None:
        while len(got) < len(data):
            got.extend(os.read(reader, 65536))

    thread = threading.Thread(target=read_all, daemon=True)
    thread.start()
    view = memoryview(data)
    while view:
        view = view[os.write(writer, view[:4096]) :]
    thread.join(timeout=len(data) * 10 / BAUD * 3 + 10)
    seconds = time.monotonic() - started
    os.close(reader)
    os.close(writer)
    cable.close()
    if bytes(got) != data:
        raise RuntimeError(f"raw serial copy lost bytes: {len(got)} of {len(data)} arrived")
    return seconds, len(data)


def tcp_run(path: Path, home: DeviceHome, label: str) -> tuple[float, float, float, int]:
    listener = TcpListener("tcp://127.0.0.1:0")
    stop = threading.Event()
    thread = threading.Thread(target=receiver.serve_tcp, args=(listener, home, stop, 30.0), daemon=True)
    thread.start()
    relay = paced_relay(listener.port)
    try:
        seconds, install, unpack = flash_once(path, f"tcp://127.0.0.1:{relay.port}", label)
    finally:
        stop.set()
        thread.join(timeout=0.5)  # a daemon thread: it may still wait out its session timeout
        relay.close()
    return seconds, install, unpack, relay.bytes_passed


def tcp_raw(path: Path) -> tuple[float, int]:
    """The peer: the file sent over the same paced TCP link with sendall, read to the end."""
    server = socket.create_server(("127.0.0.1", 0))
    relay = paced_relay(server.getsockname()[1])
    data = path.read_bytes()
    received = bytearray()

    def receive() -> None:
        conn, _ = server.accept()
        while chunk := conn.recv(65536):
            received.extend(chunk)
            if len(received) >= len(data):
                break
        conn.close()

    thread = threading.Thread(target=receive, daemon=True)
    thread.start()
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", relay.port)) as sock:
        sock.sendall(data)
        thread.join(timeout=300)
    seconds = time.monotonic() - started
    server.close()
    relay.close()
    if bytes(received[: len(data)]) != data:
        raise RuntimeError("raw TCP copy lost bytes")
    return seconds, relay.bytes_passed
