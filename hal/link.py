"""A byte stream to the central server or a technician's laptop, named by one URL.

`tcp://host:port` is a TCP connection (wrapped in TLS when an ssl context is given); anything else goes to pyserial's
serial_for_url: a device path
(`/dev/ttyAMA0`, a pty such as `/dev/pts/4`), `loop://`, `socket://host:port`, `rfc2217://host:port`.
"""

from __future__ import annotations

import socket
import ssl
from typing import Protocol
from urllib.parse import urlsplit

import serial


class LinkError(ConnectionError):
    """The link could not be opened or was lost; the message names the URL."""


class Link(Protocol):
    url: str

    def read(self, max_bytes: int, timeout: float | None) -> bytes:
        """Up to max_bytes; b"" if nothing arrived within timeout. Raises LinkError when the peer is gone."""
        ...

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


def split_tcp(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # urllib's own message names neither the URL nor the rule
        port = None
    if parts.scheme != "tcp" or not parts.hostname or port is None:
        raise LinkError(f"link {url!r}: expected tcp://HOST:PORT with PORT a number from 0 to 65535")
    return parts.hostname, port


class SocketLink:
    def __init__(self, sock: socket.socket, url: str) -> None:
        self.url = url
        self._sock = sock
        #: The verified common name of the peer's certificate on a TLS link, else "".
        self.peer_name = ""
        self.peer_der: bytes | None = None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def read(self, max_bytes: int, timeout: float | None) -> bytes:
        self._sock.settimeout(timeout)
        try:
            data = self._sock.recv(max_bytes)
        except (TimeoutError, BlockingIOError, ssl.SSLWantReadError):  # timeout=0 makes it non-blocking
            return b""
        except OSError as exc:
            raise LinkError(f"link {self.url}: {exc}") from exc
        if not data:
            raise LinkError(f"link {self.url}: closed by the other side")
        return data

    def handshake(self, timeout: float = 10.0) -> None:
        """Finish the TLS handshake of an accepted connection and note the peer's certificate name."""
        if not isinstance(self._sock, ssl.SSLSocket):
            return
        self._sock.settimeout(timeout)
        try:
            self._sock.do_handshake()
        except (OSError, ssl.SSLError) as exc:
            raise LinkError(f"link {self.url}: TLS handshake failed: {exc}") from exc
        self.peer_name = _peer_common_name(self._sock)
        #: The peer's certificate (DER), for checks beyond the CA's: its role, its lifetime, revocation.
        self.peer_der = self._sock.getpeercert(binary_form=True)

    def write(self, data: bytes) -> None:
        self._sock.settimeout(None)
        try:
            self._sock.sendall(data)
        except OSError as exc:
            raise LinkError(f"link {self.url}: {exc}") from exc

    def close(self) -> None:
        self._sock.close()


class SerialLink:
    def __init__(self, port: serial.SerialBase, url: str) -> None:
        self.url = url
        self._port = port

    def read(self, max_bytes: int, timeout: float | None) -> bytes:
        try:
            if self._port.timeout != timeout:  # setting it reconfigures a real port (termios calls)
                self._port.timeout = timeout
            first = self._port.read(1)
            if not first:
                return b""
            waiting = min(self._port.in_waiting, max_bytes - 1)
            return first + (self._port.read(waiting) if waiting > 0 else b"")
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"link {self.url}: {exc}") from exc

    def write(self, data: bytes) -> None:
        try:
            self._port.write(data)
            self._port.flush()
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"link {self.url}: {exc}") from exc

    def close(self) -> None:
        self._port.close()


def _peer_common_name(sock: ssl.SSLSocket) -> str:
    for rdn in (sock.getpeercert() or {}).get("subject", ()):
        for attribute in rdn:  # (name, value) pairs
            if attribute[0] == "commonName":
                return str(attribute[1])
    return ""


def open_link(
    url: str,
    baudrate: int = 115200,
    connect_timeout: float = 10.0,
    tls: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    tls_server_side: bool = False,
) -> Link:
    """Open the client end of a link; a tcp:// link with `tls` is authenticated and private.

    `tls_server_side`: the end that connects plays the TLS server (a technician's laptop reaching a device)."""
    if url.startswith("tcp://"):
        host, port = split_tcp(url)
        try:
            sock = socket.create_connection((host, port), timeout=connect_timeout)
            if tls is not None and tls_server_side:
                sock = tls.wrap_socket(sock, server_side=True)
            elif tls is not None:
                sock = tls.wrap_socket(sock, server_hostname=server_hostname or host)
        except (OSError, ssl.SSLError) as exc:
            raise LinkError(f"link {url}: cannot connect: {exc}") from exc
        link = SocketLink(sock, url)
        if isinstance(sock, ssl.SSLSocket):
            link.peer_name = _peer_common_name(sock)
        return link
    try:
        # Exclusive (flock): a second reader of the same port would take bytes meant for the first, silently.
        port = serial.serial_for_url(url, baudrate=baudrate, timeout=0, exclusive=True)
    except (serial.SerialException, ValueError, OSError) as exc:
        raise LinkError(f"link {url}: cannot open: {exc}") from exc
    return SerialLink(port, url)


class TcpListener:
    """The server end of tcp://HOST:PORT: each accepted connection is a Link."""

    def __init__(self, url: str, tls: ssl.SSLContext | None = None, tls_server_side: bool = True) -> None:
        self.tls = tls
        #: False: the end that accepts plays the TLS client (a device taking a technician's laptop).
        self.tls_server_side = tls_server_side
        host, port = split_tcp(url)
        try:
            self._sock = socket.create_server((host, port), reuse_port=False)
        except OSError as exc:
            raise LinkError(f"link {url}: cannot listen: {exc}") from exc
        self.url = url

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    def accept(self, timeout: float | None = None) -> SocketLink | None:
        """The next connection; with TLS, call its `handshake` on the connection's own thread."""
        try:
            self._sock.settimeout(timeout)
            conn, peer = self._sock.accept()
        except TimeoutError:
            return None
        except OSError as exc:  # closed, or out of file descriptors: say which listener
            raise LinkError(f"link {self.url}: cannot accept: {exc}") from exc
        if self.tls is not None:
            conn = self.tls.wrap_socket(conn, server_side=self.tls_server_side, do_handshake_on_connect=False)
        return SocketLink(conn, f"tcp://{peer[0]}:{peer[1]}")

    def close(self) -> None:
        self._sock.close()
