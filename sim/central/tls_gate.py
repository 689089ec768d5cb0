"""The TLS front door of the central server: accepts connections and finishes handshakes on one thread.

A connection costs a thread only once its device has proved who it is. Until then it is a non-blocking socket in
a selector, with a deadline: a thousand idle or half-open connections cost a thousand file descriptors and no
threads. At most `max_handshakes` wait at once; a new one past that pushes out the oldest, so a flood of idle
connections keeps pushing out itself while a real device's handshake (milliseconds) completes. Running out of
file descriptors (EMFILE) is survived: the oldest handshakes are dropped and accepting pauses (longer each time
if there was nothing to drop) instead of the listener dying.
"""

from __future__ import annotations

import errno
import logging
import selectors
import socket
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from hal.link import LinkError, SocketLink, split_tcp

log = logging.getLogger("ringfence.central")

#: accept() errors that mean "out of a resource right now", not "the listener is broken".
_EXHAUSTED = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


@dataclass(frozen=True)
class GateLimits:
    """docs/sync-protocol.md section 3.1 states these for operators."""

    max_handshakes: int = 1024
    handshake_timeout: float = 10.0
    backoff_min: float = 0.05
    backoff_max: float = 2.0


@dataclass
class _Pending:
    sock: ssl.SSLSocket
    url: str
    deadline: float


class TlsGate:
    """Listen on tcp://HOST:PORT; hand each connection whose TLS handshake completed to `on_ready`."""

    def __init__(
        self,
        url: str,
        context: ssl.SSLContext,
        on_ready: Callable[[SocketLink], None],
        limits: GateLimits | None = None,
        reuse_port: bool = False,
    ) -> None:
        self.url = url
        self.context = context
        self.on_ready = on_ready
        self.limits = limits or GateLimits()
        host, port = split_tcp(url)
        try:
            self._listener = socket.create_server((host, port), reuse_port=reuse_port, backlog=4096)
        except OSError as exc:
            raise LinkError(f"link {url}: cannot listen: {exc}") from exc
        self._listener.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._pending: OrderedDict[int, _Pending] = OrderedDict()
        self._paused_until = 0.0
        self._backoff = 0.0
        #: Counters an operator (and the tests) can read: why connections never became sessions.
        self.stats = {"accepted": 0, "handshakes": 0, "timed_out": 0, "pushed_out": 0, "failed": 0, "exhausted": 0}

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def pending(self) -> int:
        return len(self._pending)

    def serve(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                self._resume_if_due()
                for key, mask in self._selector.select(timeout=0.1):
                    if key.fileobj is self._listener:
                        self._accept_all()
                    else:
                        self._advance(key.fd, mask)
                self._expire(time.monotonic())
        finally:
            for fd in list(self._pending):
                self._drop(fd)
            self._selector.close()
            self._listener.close()

    def _accept_all(self) -> None:
        while True:
            try:
                conn, peer = self._listener.accept()
            except BlockingIOError:
                self._backoff = 0.0
                return
            except OSError as exc:
                if exc.errno not in _EXHAUSTED:
                    log.warning("link %s: accept failed: %s", self.url, exc)
                    return
                self._exhausted(exc)
                return
            self.stats["accepted"] += 1
            self._admit(conn, f"tcp://{peer[0]}:{peer[1]}")

    def _exhausted(self, exc: OSError) -> None:
        """Out of descriptors: drop the oldest quarter of the waiting handshakes to make room and pause briefly;
        if none are waiting (sessions hold every descriptor), pause longer each time."""
        self.stats["exhausted"] += 1
        if self._pending:
            for fd in list(self._pending)[: max(1, len(self._pending) // 4)]:
                self._drop(fd, "pushed_out")
            self._backoff = self.limits.backoff_min
        else:
            self._backoff = min(self.limits.backoff_max, max(self.limits.backoff_min, self._backoff * 2))
        self._paused_until = time.monotonic() + self._backoff
        self._selector.unregister(self._listener)
        log.warning("link %s: cannot accept (%s); pausing %.2f s", self.url, exc.strerror, self._backoff)

    def _resume_if_due(self) -> None:
        if self._paused_until and time.monotonic() >= self._paused_until:
            self._paused_until = 0.0
            self._selector.register(self._listener, selectors.EVENT_READ)

    def _admit(self, conn: socket.socket, url: str) -> None:
        conn.setblocking(False)
        try:
            sock = self.context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        except (OSError, ssl.SSLError):
            conn.close()
            return
        while len(self._pending) >= self.limits.max_handshakes:
            self._drop(next(iter(self._pending)), "pushed_out")
        self._pending[sock.fileno()] = _Pending(sock, url, time.monotonic() + self.limits.handshake_timeout)
        self._selector.register(sock, selectors.EVENT_READ)

    def _advance(self, fd: int, _mask: int) -> None:
        item = self._pending.get(fd)
        if item is None:
            return
        try:
            item.sock.do_handshake()
        except ssl.SSLWantReadError:
            self._selector.modify(item.sock, selectors.EVENT_READ)
            return
        except ssl.SSLWantWriteError:
            self._selector.modify(item.sock, selectors.EVENT_WRITE)
            return
        except (OSError, ssl.SSLError) as exc:
            log.info("link %s: TLS handshake failed: %s", item.url, exc)
            self._drop(fd, "failed")
            return
        self._selector.unregister(item.sock)
        del self._pending[fd]
        self.stats["handshakes"] += 1
        item.sock.setblocking(True)
        link = SocketLink(item.sock, item.url)
        link.handshake()  # already complete: this only notes the peer's certificate name
        self.on_ready(link)

    def _expire(self, now: float) -> None:
        while self._pending:
            fd, item = next(iter(self._pending.items()))
            if item.deadline > now:
                return
            self._drop(fd, "timed_out")

    def _drop(self, fd: int, why: str | None = None) -> None:
        item = self._pending.pop(fd)
        if why is not None:
            self.stats[why] += 1
        self._selector.unregister(item.sock)
        item.sock.close()
