"""The one loopback TCP relay for fault tests and benches: passes bytes both ways, and can flip a bit, cut the
connection, drop a reply, or hold the stream to a line rate.

Tests use it to act in the middle of a session: TLS below the sync messages turns any altered byte into a failed
connection, and the tests check that a failed connection loses and duplicates nothing and that the next session
completes. Benches use its rate to give a loopback link the speed of a real one, and count the bytes it carried.
A server that is down (a test restarting it) shows to the client as a connection that ends at once, as it would
without the proxy, and the proxy goes on serving the next connections.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass


@dataclass
class ProxyFaults:
    """What the next connections suffer; each connection keeps the faults it was accepted with."""

    #: Flip one bit of the server-to-device stream at this byte offset (per connection), or never.
    corrupt_at: int | None = None
    #: Close both sides once this many server-to-device bytes have passed (per connection), or never.
    cut_at: int | None = None
    #: Close both sides once this many device-to-server bytes have passed (per connection), or never: cuts an
    #: upload (a call recording) in the middle.
    cut_upstream_at: int | None = None
    #: Pass server-to-device bytes at most this fast (bytes per second), or as fast as they come.
    rate: float | None = None
    #: Pass device-to-server bytes at most this fast (bytes per second), or as fast as they come.
    upstream_rate: float | None = None


@dataclass(frozen=True)
class _OneWay:
    """The faults of one direction of one connection."""

    from_server: bool
    corrupt_at: int | None = None
    cut_at: int | None = None
    rate: float | None = None


class TcpFaultProxy:
    """Listens on an ephemeral loopback port (`port`) and relays each connection to `target_port`."""

    def __init__(self, target_port: int, faults: ProxyFaults | None = None) -> None:
        self.faults = faults or ProxyFaults()
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.connections = 0
        #: Connections closed at once because the server could not be reached (it is down or restarting).
        self.refused = 0
        #: Bytes relayed both ways over every connection so far.
        self.bytes_passed = 0
        self._count = threading.Lock()
        self._cut_reply = threading.Event()
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut_next_reply(self) -> None:
        """Drop the next bytes the server sends, and the connection with them: a reply lost on the way."""
        self._cut_reply.set()

    def _accept(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _peer = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:  # the server is down: the client sees its connection end, as it would without a proxy
                self.refused += 1
                _close(client)
                continue
            server.settimeout(None)
            f = self.faults
            up = _OneWay(False, cut_at=f.cut_upstream_at, rate=f.upstream_rate)
            down = _OneWay(True, corrupt_at=f.corrupt_at, cut_at=f.cut_at, rate=f.rate)
            threading.Thread(target=self._pipe, args=(client, server, up), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, down), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, faults: _OneWay) -> None:
        passed = 0
        free_at = time.monotonic()
        try:
            while data := source.recv(65536):
                if faults.from_server and self._cut_reply.is_set():
                    self._cut_reply.clear()
                    break
                if faults.corrupt_at is not None and passed <= faults.corrupt_at < passed + len(data):
                    index = faults.corrupt_at - passed
                    data = data[:index] + bytes([data[index] ^ 0x04]) + data[index + 1 :]
                if faults.cut_at is not None and passed + len(data) >= faults.cut_at:
                    self._send(sink, data[: max(0, faults.cut_at - passed)])
                    break
                if faults.rate:
                    free_at = max(free_at, time.monotonic()) + len(data) / faults.rate
                    time.sleep(max(0.0, free_at - time.monotonic()))
                self._send(sink, data)
                passed += len(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                _close(sock)

    def _send(self, sink: socket.socket, data: bytes) -> None:
        sink.sendall(data)
        with self._count:
            self.bytes_passed += len(data)

    def close(self) -> None:
        self._stop.set()
        self._listener.close()


def _close(sock: socket.socket) -> None:
    """Shut both directions (the peer reads the end of the stream), then release the socket."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
