"""Links named by one URL: a pty through pyserial, loopback TCP, pyserial's loop://, and clear errors."""

from __future__ import annotations

import os
import threading
import tty
from collections.abc import Iterator

import pytest

from hal.link import Link, LinkError, TcpListener, open_link
from sim.ports import free_port

PAYLOAD = bytes(range(256)) * 16  # every byte value, 4 KiB


def read_exactly(link: Link, n: int, timeout: float = 5.0) -> bytes:
    data = b""
    while len(data) < n:
        chunk = link.read(n - len(data), timeout)
        if not chunk:
            break
        data += chunk
    return data


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, str]]:
    master, slave = os.openpty()
    tty.setraw(slave)  # a byte stream: no echo, no newline translation
    path = os.ttyname(slave)
    yield master, path
    os.close(master)
    os.close(slave)


def read_fd(fd: int, n: int) -> bytes:
    data = b""
    while len(data) < n:
        data += os.read(fd, n - len(data))
    return data


@pytest.mark.hardware
def test_serial_link_round_trip_over_a_pty(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    link = open_link(path)
    try:
        assert link.url == path
        link.write(PAYLOAD)
        assert read_fd(master, len(PAYLOAD)) == PAYLOAD
        os.write(master, PAYLOAD[::-1])
        assert read_exactly(link, len(PAYLOAD)) == PAYLOAD[::-1]
        assert link.read(16, 0.05) == b""  # nothing more: empty, not an error
    finally:
        link.close()


@pytest.mark.hardware
def test_serial_link_read_returns_at_most_what_was_asked(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    link = open_link(path)
    try:
        os.write(master, b"abcdef")
        first = link.read(4, 1.0)
        assert first == b"abcd"[: len(first)] and 1 <= len(first) <= 4
        rest = read_exactly(link, 6 - len(first))
        assert first + rest == b"abcdef"
    finally:
        link.close()


@pytest.fixture
def tcp_pair() -> Iterator[tuple[Link, Link]]:
    listener = TcpListener("tcp://127.0.0.1:0")
    client = open_link(f"tcp://127.0.0.1:{listener.port}")
    server = listener.accept(timeout=5)
    assert server is not None
    yield client, server
    client.close()
    server.close()
    listener.close()


@pytest.mark.hardware
def test_tcp_link_round_trip_both_ways(tcp_pair: tuple[Link, Link]) -> None:
    client, server = tcp_pair
    client.write(PAYLOAD)
    assert read_exactly(server, len(PAYLOAD)) == PAYLOAD
    server.write(PAYLOAD[::-1])
    assert read_exactly(client, len(PAYLOAD)) == PAYLOAD[::-1]


@pytest.mark.hardware
@pytest.mark.parametrize("timeout", [0.0, 0.05])
def test_tcp_read_with_nothing_waiting_is_empty_not_an_error(tcp_pair: tuple[Link, Link], timeout: float) -> None:
    client, _ = tcp_pair
    assert client.read(10, timeout) == b""


@pytest.mark.hardware
def test_tcp_peer_closing_is_a_link_error_naming_the_url(tcp_pair: tuple[Link, Link]) -> None:
    client, server = tcp_pair
    server.close()
    with pytest.raises(LinkError, match=r"link tcp://127\.0\.0\.1:\d+: closed by the other side"):
        client.read(10, 2.0)


@pytest.mark.hardware
def test_tcp_writes_from_another_thread_arrive_in_order(tcp_pair: tuple[Link, Link]) -> None:
    client, server = tcp_pair
    chunks = [bytes([i]) * 100 for i in range(50)]

    def write_all() -> None:
        for chunk in chunks:
            client.write(chunk)

    writer = threading.Thread(target=write_all)
    writer.start()
    received = read_exactly(server, 5000)
    writer.join()
    assert received == b"".join(chunks)


def test_loop_url_echoes_what_is_written() -> None:
    link = open_link("loop://")
    try:
        link.write(PAYLOAD)
        assert read_exactly(link, len(PAYLOAD)) == PAYLOAD
    finally:
        link.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("tcp://127.0.0.1", "expected tcp://HOST:PORT"),
        ("tcp://127.0.0.1:notaport", "expected tcp://HOST:PORT"),
        ("tcp://127.0.0.1:70000", "expected tcp://HOST:PORT"),
        ("bogus://somewhere", "cannot open"),
        ("/dev/ringfence-no-such-port", "cannot open"),
    ],
)
def test_bad_urls_are_link_errors_naming_the_url(url: str, message: str) -> None:
    with pytest.raises(LinkError) as caught:
        open_link(url)
    assert url in str(caught.value) and message in str(caught.value)


@pytest.mark.hardware
def test_refused_tcp_connection_names_the_url() -> None:
    url = f"tcp://127.0.0.1:{free_port()}"
    with pytest.raises(LinkError, match=f"link {url}: cannot connect"):
        open_link(url, connect_timeout=2.0)


@pytest.mark.hardware
def test_listening_on_a_taken_port_names_the_url() -> None:
    first = TcpListener("tcp://127.0.0.1:0")
    url = f"tcp://127.0.0.1:{first.port}"
    try:
        with pytest.raises(LinkError, match=f"link {url}: cannot listen"):
            TcpListener(url)
    finally:
        first.close()


@pytest.mark.hardware
def test_accept_times_out_with_none_and_fails_on_a_closed_listener_naming_it() -> None:
    listener = TcpListener("tcp://127.0.0.1:0")
    assert listener.accept(timeout=0.05) is None
    listener.close()
    with pytest.raises(LinkError, match=r"link tcp://127\.0\.0\.1:0: cannot accept"):
        listener.accept(timeout=0.05)
