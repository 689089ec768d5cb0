"""The RTP leg of a SIP call: G.711 offer and answer, and aiortp's session cut into 20 ms int16 frames.

aiortp does the RTP work (packets, G.711, RFC 4733 events, the adaptive playout buffer with loss concealment);
this module only chooses the codec, checks where packets come from and counts what was concealed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from aiortp import RTPSession
from aiosipua.sdp import Codec as SdpCodec
from aiosipua.sdp import SdpMessage
from aiosipua.sdp_negotiate import build_sdp

from hal.audio import FRAME_SAMPLES

#: The static G.711 payload types (RFC 3551): name in configuration -> (payload type, SDP encoding name).
G711 = {"pcmu": (0, "PCMU"), "pcma": (8, "PCMA")}
TELEPHONE_EVENT_PT = 101

log = logging.getLogger(__name__)


def offer(local_ip: str, rtp_port: int, codecs: tuple[str, ...]) -> SdpMessage:
    """Our SDP offer: the configured G.711 codecs in preference order, plus RFC 4733 telephone-events."""
    first_pt, first_name = G711[codecs[0]]
    sdp = build_sdp(local_ip, rtp_port, first_pt, first_name, dtmf_payload_type=TELEPHONE_EVENT_PT)
    audio = sdp.audio
    assert audio is not None
    for name in codecs[1:]:
        pt, encoding = G711[name]
        audio.formats.insert(len(audio.formats) - 1, str(pt))
        audio.attributes["rtpmap"].insert(len(audio.attributes["rtpmap"]) - 1, f"{pt} {encoding}/8000")
        audio.codecs.append(SdpCodec(payload_type=pt, encoding_name=encoding, clock_rate=8000))
    return sdp


class MediaError(ValueError):
    """The far end's SDP answer cannot be used (no address, no common codec)."""


@dataclass(frozen=True)
class Negotiated:
    remote: tuple[str, int]
    payload_type: int
    event_payload_type: int


def negotiate(answer: SdpMessage, codecs: tuple[str, ...]) -> Negotiated:
    """The first G.711 codec of the answer that we offered, where to send it, and its telephone-event type."""
    audio = answer.audio
    remote = answer.rtp_address
    if audio is None or remote is None or remote[1] == 0:
        raise MediaError("the answer has no audio stream")
    offered = {G711[name][0] for name in codecs}
    chosen = next((int(f) for f in audio.formats if f.isdigit() and int(f) in offered), None)
    if chosen is None:
        raise MediaError(f"no common codec: the far end answered {' '.join(audio.formats)}")
    events = next(
        (c.payload_type for c in audio.codecs if c.encoding_name.lower() == "telephone-event"), TELEPHONE_EVENT_PT
    )
    return Negotiated(remote, chosen, events)


@dataclass
class MediaCounts:
    """What the receive side had to repair: the detectors never see a hole, but the technician is told."""

    frames_in: int = 0
    frames_out: int = 0
    foreign_packets: int = 0
    extra: dict[str, float | int] = field(default_factory=dict)


class _GuardedSession(RTPSession):
    """aiortp's session, dropping RTP from any host but the far end's: the one its SDP names, or the one its SIP
    comes from (a multi-homed peer may send from either), so nobody else can inject audio into a call."""

    allowed_hosts: frozenset[str] = frozenset()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # create() binds RTP, then awaits RTCP's bind: a packet can arrive in between, before MediaLeg.start has
        # handed over its counts and the far end's hosts. It is refused and counted here instead of raising
        # AttributeError in the event loop (a traceback on stderr, seen 1 run in 10 at load average 20).
        self.counts = MediaCounts()

    def _handle_rtp(self, data: bytes, addr: tuple[str, int]) -> None:
        if addr[0] not in self.allowed_hosts:
            self.counts.foreign_packets += 1
            return
        super()._handle_rtp(data, addr)


class MediaLeg:
    """One call's RTP: far-end audio out as whole frames, our frames in as G.711 packets."""

    def __init__(self, on_frame: Callable[[np.ndarray], None], on_digit: Callable[[str], None]) -> None:
        self._on_frame = on_frame
        self._on_digit = on_digit
        self._session: _GuardedSession | None = None
        self._pending = np.zeros(0, dtype=np.int16)
        self.counts = MediaCounts()
        self.negotiated: Negotiated | None = None

    @property
    def open(self) -> bool:
        return self._session is not None

    async def start(self, bind_ip: str, rtp_port: int, negotiated: Negotiated, signalling_host: str) -> None:
        allowed = frozenset({negotiated.remote[0], signalling_host})
        if self._session is not None:
            if self.negotiated is None or negotiated.remote != self.negotiated.remote:
                self._session.update_remote(negotiated.remote)
            self._session.allowed_hosts = allowed
            self.negotiated = negotiated
            return
        # aiortp's create() is annotated as returning its base class; called on the subclass it makes one.
        session = cast(
            _GuardedSession,
            await _GuardedSession.create(
                (bind_ip, rtp_port),
                negotiated.remote,
                negotiated.payload_type,
                dtmf_payload_type=negotiated.event_payload_type,
                playout=True,
            ),
        )
        session.counts = self.counts
        session.allowed_hosts = allowed
        session.on_audio = self._far_audio
        session.on_dtmf = lambda digit, _duration: self._on_digit(digit)
        self._session, self.negotiated = session, negotiated

    def _far_audio(self, pcm: bytes, _timestamp: int) -> None:
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.int16)
        if len(self._pending):
            samples = np.concatenate([self._pending, samples])
        whole = len(samples) - len(samples) % FRAME_SAMPLES
        for i in range(0, whole, FRAME_SAMPLES):
            self.counts.frames_in += 1
            self._on_frame(samples[i : i + FRAME_SAMPLES].copy())
        self._pending = samples[whole:]

    def send(self, pcm: bytes) -> None:
        if self._session is not None:
            self._session.send_audio_pcm_auto(pcm)
            self.counts.frames_out += 1

    def stats(self) -> dict[str, float | int]:
        """Frames in and out, packets refused, and the playout buffer's concealment counts."""
        if self._session is not None:
            s = self._session.stats
            self.counts.extra = {
                k: s[k]
                for k in (
                    "packets_received",
                    "packets_lost",
                    "concealed_frames",
                    "late_dropped",
                    "underrun_suspensions",
                    "cn_frames",
                )
                if k in s
            }
        return {
            "frames_in": self.counts.frames_in,
            "frames_out": self.counts.frames_out,
            "foreign_packets": self.counts.foreign_packets,
            **self.counts.extra,
        }

    async def close(self) -> None:
        if self._session is not None:
            self.stats()
            session, self._session = self._session, None
            await session.close()
