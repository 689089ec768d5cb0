"""A telephone line over SIP: aiosipua places the call, aiortp carries the audio, both on one asyncio thread.

The runtime calls dial/send/hang_up from its own thread; they are handed to the line's event loop. What the
network says (responses, BYE, RTP frames, RFC 4733 digits, registration) comes back as timestamped events
posted to the runtime's sink, like every other hal device.

Pieces aiosipua 0.7 leaves to its user are kept small: INVITE retransmission over UDP (timer A) and giving up
when nobody answers at all (timer B) and a watchdog on registration here; the rest in hal/sip_signalling.py. The
call's audio is the line's part LineMedia (hal/sip_line_media.py).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np
from aiosipua import SipDigestAuth, SipRequest, SipResponse, parse_uri
from aiosipua.dialog import DialogState
from aiosipua.outgoing_call import OutgoingCall
from aiosipua.sdp import parse_sdp
from aiosipua.uas import SipUAS

from hal.audio import check_frame
from hal.clock import Clock
from hal.events import Event
from hal.inbound_offers import OfferReports
from hal.line import LineAnswered, LineDigit, LineHungUp, LineMediaReport, LineProgress, LineService
from hal.sip_line_media import LineMedia
from hal.sip_media import MediaError, MediaLeg, negotiate, offer
from hal.sip_ports import HeldPorts
from hal.sip_registration import KeptRegistration
from hal.sip_signalling import (
    SipSettings,
    TcpTransport,
    Uac,
    UdpTransport,
    ack_failure,
    answered_anyway,
    progress_for,
    quiet_library_logs,
    route_local_ip,
    split_host_port,
)

__all__ = ["SipLine", "SipSettings", "progress_for"]

EventSink = Callable[[Event], None]
T1_S = 0.5


class SipLine(LineMedia):
    """The `Line` of a handset whose calls go to a SIP server, a PBX, or straight to a SIP URI."""

    def __init__(self, clock: Clock, settings: SipSettings) -> None:
        self._clock = clock
        self.settings = settings
        self._sink: EventSink | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sip-line", daemon=True)
        self._ports = HeldPorts(settings.rtp_ports)
        self._uac: Uac | None = None
        self._uas: SipUAS | None = None
        self._registration: KeptRegistration | None = None
        self._call: OutgoingCall | None = None
        #: Calls we cancelled, by Call-ID, until their 487 arrives and is acknowledged.
        self._cancelled: dict[str, OutgoingCall] = {}
        self._media: MediaLeg | None = None
        self._rtp_port = 0
        self._responded = False
        self._answered = False
        self._local_ip = ""
        #: Our SDP's session id and its last version: each answer to a re-INVITE is one more (RFC 3264 8).
        self._sdp_origin = ("0", 0)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._offers = OfferReports(settings.inbound_report_s)
        self._last_submitted: concurrent.futures.Future[None] | None = None
        #: The last final response to our INVITE, for the technician's line test.
        self.last_response: tuple[int, str] = (0, "")
        self.last_stats: dict[str, float | int] = {}
        #: The port SIP listens on (the configured one, or the one the system chose for port 0).
        self.local_port = 0

    # ---- the Line protocol (runtime thread) -----------------------------------------------------------

    def start(self, sink: EventSink) -> None:
        """Bind the SIP socket (an error here is raised, so the device reports it at start-up)."""
        quiet_library_logs()
        self._sink = sink
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._open(), self._loop).result(10)

    def dial(self, number: str) -> None:
        direct = number.startswith(("sip:", "sips:")) or not self.settings.server
        self._submit(self._place(self.target(number), direct))

    def send(self, samples: np.ndarray) -> None:
        pcm = check_frame(samples).astype("<i2").tobytes()
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._send_pcm, pcm)

    def hang_up(self) -> None:
        self._submit(self._release())

    def close(self) -> None:
        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                if self._last_submitted is not None:
                    self._last_submitted.result(5)  # a hang-up still under way finishes first
                asyncio.run_coroutine_threadsafe(self._shut(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            if not self._thread.is_alive():
                self._loop.close()
        self._sink = None

    def target(self, number: str) -> str:
        """A full SIP URI is called as it is; anything else goes through the dial template."""
        if number.startswith(("sip:", "sips:")):
            return number
        return self.settings.dial_template.format(number=number, domain=self.settings.domain)

    # ---- the event loop's side ------------------------------------------------------------------------

    def _submit(self, coro: Coroutine[Any, Any, None]) -> None:
        if self._loop.is_running():
            self._last_submitted = asyncio.run_coroutine_threadsafe(coro, self._loop)
        else:
            coro.close()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _emit(self, event: Event) -> None:
        sink = self._sink
        if sink is not None:
            sink(event)

    def _now(self) -> float:
        return self._clock.now()

    async def _open(self) -> None:
        s = self.settings
        towards = split_host_port(s.server)[0] if s.server else "127.0.0.1"
        self._local_ip = s.local_address or route_local_ip(towards)
        bind = (s.local_address or "0.0.0.0", s.sip_port)
        transport = TcpTransport(local_addr=bind) if s.transport == "tcp" else UdpTransport(local_addr=bind)
        self._uac = Uac(transport)
        self._uac.on_response = self._on_response
        self._uas = SipUAS(transport, uac=self._uac, user_agent="ringfence")
        self._uas.on_invite = self._refuse_inbound
        self._uas.on_bye = self._far_bye
        self._uas.on_reinvite = self._far_reinvite
        await self._uas.start()
        if isinstance(transport, TcpTransport):
            self.local_port = transport.bound_port
        elif transport._udp_transport is not None:  # set by start() above
            self.local_port = int(transport._udp_transport.get_extra_info("sockname")[1])
        self._uac.advertised_addr = (self._local_ip, self.local_port)
        if s.register:
            self._start_registration()

    @property
    def _auth(self) -> SipDigestAuth | None:
        return SipDigestAuth(self.settings.user, self.settings.password) if self.settings.password else None

    def _start_registration(self) -> None:
        assert self._uac is not None
        self._registration = KeptRegistration(
            self._uac, self.settings, self._auth, lambda state, why: self._emit(LineService(self._now(), state, why))
        )
        self._registration.start()

    async def _place(self, uri: str, direct: bool) -> None:
        """Send the INVITE: to the URI's own host when called directly, else to the configured server."""
        await self._release()
        uac = self._uac
        assert uac is not None
        try:
            target = parse_uri(uri)
            remote = (target.host, target.port or 5060) if direct else split_host_port(self.settings.server)
            if not target.host or not remote[0] or target.scheme != "sip":
                raise ValueError(uri)  # sips: would need TLS, which this line does not have
        except (ValueError, AttributeError, OSError):
            self.last_response = (0, f"not a SIP address this line can call: {uri}")
            self._emit(LineProgress(self._now(), "unreachable"))
            return
        try:
            self._rtp_port = self._ports.take()
        except OSError as exc:
            self.last_response = (0, str(exc))
            self._emit(LineProgress(self._now(), "reorder"))
            return
        self._responded, self._answered = False, False
        s = self.settings
        self._media = MediaLeg(self._far_frame, lambda d: self._emit(LineDigit(self._now(), d)), s.playout_floor_ms)
        from_uri = f"sip:{s.user}@{s.domain or self._local_ip}"
        sdp = offer(self._local_ip, self._rtp_port, s.codecs)
        self._sdp_origin = (sdp.origin.session_id, int(sdp.origin.session_version))
        call = uac.send_invite(from_uri, uri, remote, sdp, user_agent="ringfence", auth=self._auth)
        call.on_answer = lambda c: self._spawn(self._on_answer(c))
        call.on_rejected = lambda c, code, why: self._spawn(self._on_rejected(c, code, why))
        self._call = call
        self._spawn(self._retransmit(call))

    async def _retransmit(self, call: OutgoingCall) -> None:
        """Timers A and B: resend the INVITE until any answer (UDP only), then give up as a network fault."""
        interval, waited = T1_S, 0.0
        while waited < self.settings.response_timeout_s:
            await asyncio.sleep(interval)
            waited += interval
            if self._call is not call or self._responded:
                return
            if not call.transport.reliable:  # type: ignore[union-attr]
                call.transport.send(call.invite, call.remote_addr)  # type: ignore[union-attr]
            interval = min(interval * 2, 4.0)
        if self._call is call and not self._responded:
            self.last_response = (408, "no answer from the far end")
            self._emit(LineProgress(self._now(), "reorder"))
            await self._drop_call()

    def _on_response(self, response: SipResponse) -> None:
        cseq = response.cseq
        if cseq is None or cseq.method.upper() != "INVITE":
            return
        cancelled = self._cancelled.get(response.call_id or "")
        if cancelled is not None and response.status_code >= 200:
            del self._cancelled[cancelled.call_id]
            if response.status_code >= 300:
                ack_failure(cancelled, response)
            elif self._uac is not None:  # answered as our CANCEL crossed it: take the call and end it at once
                answered_anyway(self._uac, cancelled, response)
            return
        call = self._call
        if call is None or response.call_id != call.call_id:
            return
        self._responded = True
        status = response.status_code
        if status >= 300:
            ack_failure(call, response)
        if status in (180, 183) and not self._answered:
            self._emit(LineProgress(self._now(), "ringing"))
            if status == 183 and response.body and response.content_type == "application/sdp":
                self._spawn(self._start_media(parse_sdp(response.text)))

    async def _on_answer(self, call: OutgoingCall) -> None:
        if call is not self._call:  # answered after we gave up on it: end it rather than leave the far end talking
            if self._uac is not None:
                self._uac.send_bye(call.dialog, call.remote_addr)
            return
        problem = ""
        try:
            if call.sdp_answer is not None:
                negotiate(call.sdp_answer, self.settings.codecs)
            elif self._media is None or not self._media.open:
                raise MediaError("the answer carries no SDP")
        except MediaError as exc:
            problem = f"unusable answer: {exc}"
        if not problem:
            await self._start_media(call.sdp_answer)
            if self._media is None or not self._media.open:
                problem = f"cannot receive audio on RTP port {self._rtp_port}"
        if problem:  # answered, but with nothing we can hear: end it as network trouble
            logging.getLogger(__name__).warning("the far end answered, but %s; hanging up", problem)
            if self._uac is not None:
                self._uac.send_bye(call.dialog, call.remote_addr)
            self.last_response = (488, problem)
            await self._drop_call()
            self._emit(LineProgress(self._now(), "reorder"))
            return
        self._answered = True
        self.last_response = (200, "OK")
        self._emit(LineAnswered(self._now()))
        if self._media is not None and self.settings.rtp_timeout_s > 0:
            self._media.expect_audio()
            self._spawn(self._watch_far_audio(call, self._media))

    async def _on_rejected(self, call: OutgoingCall, status: int, reason: str) -> None:
        if call is not self._call:
            return
        self.last_response = (status, reason)
        state = progress_for(status)
        await self._drop_call()
        if state is not None:
            self._emit(LineProgress(self._now(), state))

    def _far_bye(self, _call: Any, request: SipRequest) -> None:
        if self._call is not None and request.call_id == self._call.call_id:
            self._spawn(self._far_end_left())

    async def _far_end_left(self) -> None:
        await self._drop_call()
        self._emit(LineHungUp(self._now()))

    def _refuse_inbound(self, incoming: Any) -> None:
        incoming.reject(603, "Decline")
        report, window_started = self._offers.offer(self._now(), str(incoming.caller))
        if report is not None:
            self._emit(report)
        if window_started:
            self._spawn(self._report_held_offers())

    async def _report_held_offers(self) -> None:
        await asyncio.sleep(self._offers.window_s)
        report = self._offers.window_over(self._now())
        if report is not None:
            self._emit(report)

    async def _release(self) -> None:
        """Our side ends the call: CANCEL while it rings, BYE once answered."""
        call, uac = self._call, self._uac
        if call is None or uac is None:
            return
        if call.dialog.state == DialogState.EARLY and self._responded:
            uac.send_cancel(call)
            self._cancelled[call.call_id] = call
        elif call.dialog.state == DialogState.CONFIRMED:
            uac.send_bye(call.dialog, call.remote_addr)
        await self._drop_call()

    async def _drop_call(self) -> None:
        media, self._media, self._call, self._answered = self._media, None, None, False
        if media is not None:
            await media.close()
            self.last_stats = media.stats()
            if media.negotiated is not None:  # audio flowed, or was owed: what the network did to it
                self._emit(LineMediaReport(self._now(), dict(self.last_stats)))
        if self._rtp_port:
            self._ports.release_for_use(self._rtp_port)
            self._rtp_port = 0

    async def _shut(self) -> None:
        await self._release()
        for _ in range(100):  # up to 2 s for a cancelled INVITE's 487, so it is acknowledged before we go
            if not self._cancelled:
                break
            await asyncio.sleep(0.02)
        if self._registration is not None:
            self._registration.close()
        self._registration = None
        for task in list(self._tasks):
            task.cancel()
        self._ports.close()
        if self._uas is not None:
            await self._uas.stop()
