"""The fault proxy does to a loopback connection exactly what a test asks: relay, flip one bit, cut at a byte
count in either direction, drop the next reply, hold a rate, and count what it carried."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from sim.tcp_proxy import ProxyFaults, TcpFaultProxy

PAYLOAD = bytes(range(256)) * 64  # 16 KiB


#: What the echo server received, one bytearray a connection.
Received = list[bytearray]


@pytest.fixture
def received() -> Received:
    return []


@pytest.fixture
def echo_port(received: Received) -> Iterator[int]:
    """A server that answers every byte with the same byte, and keeps what it received."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    def echo(conn: socket.socket) -> None:
        kept = bytearray()
        received.append(kept)
        with conn:
            try:
                while data := conn.recv(65536):
                    kept.extend(data)
                    conn.sendall(data)
            except OSError:
                pass

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    server.close()


def exchange(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send `data` and read back until the echo is complete or the link closes."""
    got = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        threading.Thread(target=lambda: _send(sock, data), daemon=True).start()
        while len(got) < len(data):
            try:
                chunk = sock.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            got.extend(chunk)
    return bytes(got)


def _send(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the proxy may cut the link mid-send: that is the test
        sock.sendall(data)


def test_without_faults_every_byte_passes_both_ways_and_is_counted(echo_port: int) -> None:
    proxy = TcpFaultProxy(echo_port)
    try:
        assert exchange(proxy.port, PAYLOAD) == PAYLOAD
        deadline = time.monotonic() + 5
        while proxy.bytes_passed < 2 * len(PAYLOAD) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proxy.bytes_passed == 2 * len(PAYLOAD) and proxy.connections == 1
    finally:
        proxy.close()


def test_one_bit_is_flipped_at_the_offset_asked_and_nowhere_else(echo_port: int) -> None:
    proxy = TcpFaultProxy(echo_port, ProxyFaults(corrupt_at=1000))
    try:
        got = exchange(proxy.port, PAYLOAD)
    finally:
        proxy.close()
    differs = [i for i, (a, b) in enumerate(zip(got, PAYLOAD, strict=True)) if a != b]
    assert differs == [1000] and got[1000] ^ PAYLOAD[1000] == 0x04


def test_a_cut_passes_exactly_the_bytes_before_it_then_closes(echo_port: int) -> None:
    proxy = TcpFaultProxy(echo_port, ProxyFaults(cut_at=5000))
    try:
        got = exchange(proxy.port, PAYLOAD)
    finally:
        proxy.close()
    assert got == PAYLOAD[:5000]


def test_an_upstream_cut_delivers_exactly_the_bytes_before_it_to_the_server(echo_port: int, received: Received) -> None:
    proxy = TcpFaultProxy(echo_port, ProxyFaults(cut_upstream_at=5000))
    try:
        assert len(exchange(proxy.port, PAYLOAD)) <= 5000
    finally:
        proxy.close()
    deadline = time.monotonic() + 5
    while (not received or len(received[0]) < 5000) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)  # nothing more may follow the cut
    assert [bytes(r) for r in received] == [PAYLOAD[:5000]]


def test_the_next_reply_is_dropped_with_the_link_and_the_next_connection_is_whole(echo_port: int) -> None:
    proxy = TcpFaultProxy(echo_port)
    try:
        proxy.cut_next_reply()
        assert exchange(proxy.port, b"lost") == b""
        assert exchange(proxy.port, b"kept") == b"kept"
    finally:
        proxy.close()


def test_a_rate_holds_the_stream_to_it(echo_port: int) -> None:
    """16 KiB at 64 KiB/s cannot arrive in under a quarter of a second however fast the machine is."""
    proxy = TcpFaultProxy(echo_port, ProxyFaults(rate=64 * 1024))
    try:
        started = time.monotonic()
        assert exchange(proxy.port, PAYLOAD) == PAYLOAD
        assert time.monotonic() - started >= 0.24
    finally:
        proxy.close()


def unused_port() -> int:
    """A loopback port nobody listens on (bound and released: connecting to it is refused)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def test_a_server_that_is_down_closes_the_client_cleanly_and_the_proxy_keeps_serving(
    echo_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Connecting upstream is refused: the client sees the connection end (not a hang, not a reset), no thread
    dies with an exception, and once the server is up the same proxy relays again."""
    crashed: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", crashed.append)
    proxy = TcpFaultProxy(unused_port())
    try:
        for _ in range(2):
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
                assert sock.recv(1) == b"", "the proxy closed the client side"
        assert proxy.refused == 2 and proxy.connections == 2
        proxy.target_port = echo_port  # the server is back
        assert exchange(proxy.port, b"kept") == b"kept"
    finally:
        proxy.close()
    assert crashed == []
