"""A loopback TCP relay for fault tests: passes bytes both ways, and can flip a bit or cut the connection.

It can also slow the stream down, so that a test can act in the middle of a session. TLS below the sync messages turns
any altered byte into a failed connection; the tests check that a failed
connection loses and duplicates nothing and that the next session completes.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass


@dataclass
class ProxyFaults:
    #: Flip one bit of the server-to-device stream at this byte offset (per connection), or never.
    corrupt_at: int | None = None
    #: Close both sides once this many server-to-device bytes have passed (per connection), or never.
    cut_at: int | None = None
    #: Close both sides once this many device-to-server bytes have passed (per connection), or never: cuts an
    #: upload (a call recording) in the middle.
    cut_upstream_at: int | None = None
    #: Pass server-to-device bytes at most this fast (bytes per second), or as fast as they come.
    rate: float | None = None


class TcpFaultProxy:
    def __init__(self, target_port: int, faults: ProxyFaults | None = None) -> None:
        self.faults = faults or ProxyFaults()
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

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
            server = socket.create_connection(("127.0.0.1", self.target_port))
            faults = self.faults
            upstream = None if faults.cut_upstream_at is None else ProxyFaults(cut_at=faults.cut_upstream_at)
            threading.Thread(target=self._pipe, args=(client, server, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, faults), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, faults: ProxyFaults | None) -> None:
        passed = 0
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if (
                    faults is not None
                    and faults.corrupt_at is not None
                    and passed <= faults.corrupt_at < passed + len(data)
                ):
                    index = faults.corrupt_at - passed
                    data = data[:index] + bytes([data[index] ^ 0x04]) + data[index + 1 :]
                if faults is not None and faults.cut_at is not None and passed + len(data) >= faults.cut_at:
                    sink.sendall(data[: max(0, faults.cut_at - passed)])
                    break
                sink.sendall(data)
                passed += len(data)
                if faults is not None and faults.rate:
                    time.sleep(len(data) / faults.rate)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
