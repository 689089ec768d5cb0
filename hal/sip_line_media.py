"""The SIP line's audio during a call: the RTP leg opened on an answer (or early media), kept up to date when the
far end re-INVITEs (hold, resume, media moved), ended when the far end falls silent without holding, and the
frames in and out. A part of `SipLine` (hal/sip_line.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, Protocol

import numpy as np
from aiosipua.outgoing_call import OutgoingCall

from hal.audio import AudioFrame
from hal.events import Event
from hal.line import LineHeld, LineHungUp
from hal.sip_media import MediaError, MediaLeg, Negotiated, answer_reoffer, negotiate
from hal.sip_ports import HeldPorts
from hal.sip_signalling import SipSettings

log = logging.getLogger(__name__)


class _Line(Protocol):
    """What the call's media uses of the line it is part of."""

    settings: SipSettings
    last_response: tuple[int, str]
    _call: OutgoingCall | None
    _media: MediaLeg | None
    _ports: HeldPorts
    _rtp_port: int
    _answered: bool
    _local_ip: str
    _sdp_origin: tuple[str, int]

    def _emit(self, event: Event) -> None: ...
    def _now(self) -> float: ...
    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None: ...
    async def _release(self) -> None: ...
    async def _open_media(self, negotiated: Negotiated) -> None: ...


class LineMedia:
    """The RTP leg of the line's one call."""

    async def _start_media(self: _Line, answer: Any) -> None:
        if answer is None:
            return
        try:
            negotiated = negotiate(answer, self.settings.codecs)
        except MediaError as exc:
            log.warning("media: %s", exc)
            return
        await self._open_media(negotiated)

    async def _open_media(self: _Line, negotiated: Negotiated) -> None:
        media, call = self._media, self._call
        if media is None or call is None:
            return
        if not media.open:
            self._ports.release_for_use(self._rtp_port)  # aiortp binds it now
        try:
            await media.start("0.0.0.0", self._rtp_port, negotiated, call.remote_addr[0])
        except OSError as exc:
            log.warning("media: %s", exc)

    async def _watch_far_audio(self: _Line, call: OutgoingCall, media: MediaLeg) -> None:
        """A far end that sends nothing for rtp_timeout_s without holding the call is gone (its network died
        before its BYE could reach us): end the call rather than bill the inmate for a dead line."""
        limit = self.settings.rtp_timeout_s
        while self._call is call:
            await asyncio.sleep(min(1.0, limit / 4))
            if self._call is call and not media.held and media.silent_s() >= limit:
                log.warning("no audio from the far end for %g s: ending the call", limit)
                self.last_response = (408, f"no RTP from the far end for {limit:g} s")
                await self._release()
                self._emit(LineHungUp(self._now(), cause="lost"))
                return

    def _far_reinvite(self: _Line, incoming: Any) -> None:
        """The far end changes the call: hold, resume, or media moved elsewhere (a PBX re-routing audio). Left
        unanswered, the far end would retransmit and then end the call (RFC 3261 timer B)."""
        call, media = self._call, self._media
        if call is None or incoming.call_id != call.call_id or media is None or media.negotiated is None:
            incoming.reject(481, "Call/Transaction Does Not Exist")
            return
        session, version = self._sdp_origin
        try:
            change = answer_reoffer(
                incoming.sdp_offer, media.negotiated, self._local_ip, self._rtp_port, (session, version + 1)
            )
        except MediaError as exc:
            log.warning("re-INVITE refused: %s", exc)
            incoming.reject(488, "Not Acceptable Here")
            return
        self._sdp_origin = (session, version + 1)
        incoming.accept(change.answer)
        if media.held and not change.held:
            media.expect_audio()
        if media.held != change.held:
            self._emit(LineHeld(self._now(), change.held))
        media.held = change.held
        self._spawn(self._open_media(change.negotiated))

    def _far_frame(self: _Line, samples: np.ndarray) -> None:
        self._emit(AudioFrame(self._now(), "line", samples))

    def _send_pcm(self: _Line, pcm: bytes) -> None:
        if self._media is not None and self._answered:
            self._media.send(pcm)
