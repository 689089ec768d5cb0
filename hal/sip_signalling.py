"""SIP signalling details around aiosipua: what a response means to the call flow, the line's settings, and the
small pieces aiosipua 0.7 leaves to its user (docs/architecture.md says why each is here).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiosipua import SipRequest, SipResponse
from aiosipua.outgoing_call import OutgoingCall
from aiosipua.sdp import parse_sdp
from aiosipua.transport import TcpSipTransport, UdpSipTransport, _UdpProtocol
from aiosipua.uac import SipUAC

#: The least audio the playout buffer aims to hold once the call has settled. aiortp aims at twice the measured jitter
#: plus one frame: 20 ms on a quiet network. A packet held up longer than that, by the network or by this Pi's own
#: busy moments, came too late and was dropped: the call's detectors never heard it (a hookflash went unheard under
#: load, docs/line.md). 80 ms keeps those packets; G.114 counts up to 150 ms one way as fine for conversation.
PLAYOUT_FLOOR_MS = 80

#: Final INVITE responses as the call flow understands them (see docs/line.md).
PROGRESS_BY_STATUS = {
    486: "busy",
    600: "busy",
    404: "unreachable",
    484: "unreachable",
    410: "unreachable",
    604: "unreachable",
    480: "no_answer",
    408: "no_answer",
    503: "reorder",
}


def progress_for(status: int) -> str | None:
    """The progress state a SIP response means; None for responses that change nothing the flow sees."""
    if status in (180, 183):
        return "ringing"
    if status in PROGRESS_BY_STATUS:
        return PROGRESS_BY_STATUS[status]
    if 300 <= status < 700 and status != 487:
        return "reorder"  # refused for a reason the inmate cannot act on: network trouble
    return None


@dataclass(frozen=True)
class SipSettings:
    """What the line needs to know, already validated by the configuration ([line] in firmware/config.py)."""

    server: str = ""
    domain: str = ""
    user: str = "handset"
    password: str = ""
    register: bool = False
    register_expires_s: int = 600
    register_retry_s: float = 30.0
    local_address: str = ""
    sip_port: int = 0
    codecs: tuple[str, ...] = ("pcmu", "pcma")
    rtp_ports: tuple[int, int] = (16384, 32766)
    dial_template: str = "sip:{number}@{domain}"
    response_timeout_s: float = 8.0
    transport: str = "udp"
    rtp_timeout_s: float = 60.0
    inbound_report_s: float = 60.0
    playout_floor_ms: float = PLAYOUT_FLOOR_MS


def split_host_port(value: str, default_port: int = 5060) -> tuple[str, int]:
    host, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
    return host, int(port) if port else default_port


def route_local_ip(towards: str) -> str:
    """The address this host uses to reach `towards`: what SDP and Contact must announce."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((towards, 9))
        return str(s.getsockname()[0])


class Uac(SipUAC):
    """aiosipua's UAC with one hook: every response is shown to the line before the library acts on it."""

    on_response: Callable[[SipResponse], None] = staticmethod(lambda r: None)

    def handle_response(self, response: SipResponse, addr: tuple[str, int]) -> None:
        _drop_malformed_sdp(response)
        self.on_response(response)
        super().handle_response(response, addr)


def _drop_malformed_sdp(response: SipResponse) -> None:
    """An SDP body aiosipua cannot parse would raise inside its response handling, leaving a 200 OK without
    its ACK and the call hanging; without the body, the line sees an answer with no usable audio and ends it."""
    if not response.body or response.content_type != "application/sdp":
        return
    try:
        parse_sdp(response.text)
    except Exception as exc:  # the parser raises whatever the text provokes (ValueError, IndexError, ...)
        logging.getLogger("aiosipua").warning(
            "malformed SDP from the far end (%s: %s): ignored", type(exc).__name__, exc
        )
        response.body = b""


class _UdpProtocol311(_UdpProtocol):
    """aiosipua asserts the socket is an asyncio.DatagramTransport, which Python 3.11's selector transport
    (Raspberry Pi OS bookworm) does not declare although it is one; take it without the assertion."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._owner._udp_transport = transport  # type: ignore[assignment]


class UdpTransport(UdpSipTransport):
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._udp_transport, _ = await loop.create_datagram_endpoint(
            lambda: _UdpProtocol311(self), local_addr=self.local_addr
        )


class _LibraryLog(logging.Handler):
    """The SIP and RTP libraries' warnings (malformed packets, mostly) as one line each on stderr, never a
    traceback, and at most `burst` a minute, so a peer sending garbage cannot flood the console."""

    def __init__(self, burst: int = 10) -> None:
        super().__init__(logging.WARNING)
        self.burst = burst
        self._window = (0.0, 0)

    def emit(self, record: logging.LogRecord) -> None:
        start, count = self._window
        if record.created - start >= 60:
            start, count = record.created, 0
        self._window = (start, count + 1)
        if count < self.burst:
            sys.stderr.write(f"ringfence: {record.name.split('.')[0]}: {record.getMessage()}\n")


def quiet_library_logs() -> None:
    for name in ("aiosipua", "aiortp"):
        lib = logging.getLogger(name)
        if not any(isinstance(h, _LibraryLog) for h in lib.handlers):
            lib.addHandler(_LibraryLog())
            lib.propagate = False


def ack_failure(call: OutgoingCall, response: SipResponse) -> None:
    """RFC 3261 17.1.1.3: a failed INVITE is acknowledged on the same branch, or the server resends it."""
    ack = SipRequest(method="ACK", uri=call.invite.uri)
    for name in ("Via", "From", "To", "Call-ID"):
        value = response.get_header(name)
        if value:
            ack.headers.set_single(name, value)
    ack.headers.set_single("CSeq", f"{response.cseq.seq if response.cseq else 1} ACK")
    ack.headers.set_single("Max-Forwards", "70")
    ack.headers.set_single("Content-Length", "0")
    call.transport.send(ack, call.remote_addr)  # type: ignore[union-attr]


def answered_anyway(uac: SipUAC, call: OutgoingCall, response: SipResponse) -> None:
    """A 200 OK that crossed our CANCEL (RFC 3261 9.1): the far end is off-hook, so acknowledge it and send BYE
    at once, with aiosipua's own ACK and BYE, rather than leave it talking to nobody."""
    from aiosipua.dialog import DialogState
    from aiosipua.uac_responses import _send_ack

    to = response.to_addr
    if to is not None and to.tag:
        call.dialog.remote_tag = to.tag
    call.dialog.state = DialogState.CONFIRMED  # the CANCEL had terminated it; the 200 OK established it after all
    _send_ack(uac, call, response)
    uac.send_bye(call.dialog, call.remote_addr)


@dataclass
class TcpTransport(TcpSipTransport):
    """aiosipua's TCP transport with what its requests lack over TCP: a Via that says TCP and a Contact that asks
    for TCP (aiosipua writes UDP into both), and a connection opened on first use, since its send() needs one."""

    _connecting: dict[tuple[str, int], asyncio.Future[Any]] = field(default_factory=dict, init=False, repr=False)

    def send(self, message: SipRequest | SipResponse, addr: tuple[str, int]) -> None:
        if isinstance(message, SipRequest):
            _over_tcp(message)
        if addr in self._connections:
            super().send(message, addr)
        else:
            self._spawn(self._connect_and_send(message, addr))

    async def _connect_and_send(self, message: SipRequest | SipResponse, addr: tuple[str, int]) -> None:
        pending = self._connecting.get(addr)
        if pending is None:
            pending = self._connecting[addr] = asyncio.ensure_future(self.connect(addr))
        try:
            await pending
        except OSError as exc:  # the caller's own timer reports the silence (timer B, the registration watchdog)
            logging.getLogger("aiosipua.transport").warning(
                "cannot connect to %s:%d over TCP: %s", *addr, exc.strerror or exc
            )
            return
        finally:
            if self._connecting.get(addr) is pending:
                del self._connecting[addr]
        super().send(message, addr)

    @property
    def bound_port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])


def _over_tcp(request: SipRequest) -> None:
    vias = request.get_header_values("via")
    if vias and vias[0].startswith("SIP/2.0/UDP"):
        request.remove_header("via")
        for i, via in enumerate(vias):
            request.add_header("Via", "SIP/2.0/TCP" + via[len("SIP/2.0/UDP") :] if i == 0 else via)
    contact = request.get_header("contact")
    if contact and "transport=" not in contact:
        request.set_header(
            "Contact", contact.replace(">", ";transport=tcp>", 1) if ">" in contact else contact + ";transport=tcp"
        )
