"""The RTP leg of a SIP call: G.711 offer and answer, and aiortp's session cut into 20 ms int16 frames.

aiortp does the RTP work (packets, G.711, RFC 4733 events, the adaptive playout buffer with loss concealment);
this module only chooses the codec, checks where packets come from, sets the playout buffer's floor and counts
what was concealed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from aiortp import AdaptivePlayout, RTPSession
from aiosipua.sdp import Codec as SdpCodec
from aiosipua.sdp import SdpMessage
from aiosipua.sdp_negotiate import build_sdp

from hal.audio import FRAME_SAMPLES
from hal.sip_signalling import PLAYOUT_FLOOR_MS

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


#: Our answer to each direction the far end offers (RFC 3264 6.1): a far end that only sends is holding us.
MIRRORED = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive"}
HOLD_ADDRESS = "0.0.0.0"  # RFC 2543's hold, still sent by older PBXes


@dataclass(frozen=True)
class Reoffer:
    """What a re-INVITE from the far end changes: where and how audio goes, our SDP answer, and whether the far
    end holds the call (then it may send nothing at all, which is not a dead line)."""

    negotiated: Negotiated
    answer: SdpMessage
    held: bool


def answer_reoffer(
    reoffer: SdpMessage | None, current: Negotiated, local_ip: str, rtp_port: int, origin: tuple[str, int]
) -> Reoffer:
    """Our answer to a re-INVITE's offer (hold, resume, media moved to another address), on the codec the call
    already uses. `origin` is our SDP's session id and its new version (RFC 3264 8: one more per answer).
    Raises MediaError when the offer drops our codec (the caller answers 488 and the call goes on as it was)."""
    direction, negotiated = "sendrecv", current
    if reoffer is not None:
        audio, remote = reoffer.audio, reoffer.rtp_address
        if audio is None or remote is None:
            raise MediaError("the re-INVITE offers no audio stream")
        direction = audio.direction
        if str(current.payload_type) not in audio.formats:
            raise MediaError(f"the re-INVITE drops the call's codec: it offers {' '.join(audio.formats)}")
        if remote[0] != HOLD_ADDRESS and remote[1] != 0:
            negotiated = Negotiated(remote, current.payload_type, current.event_payload_type)
        elif direction == "sendrecv":
            direction = "sendonly"  # c=0.0.0.0: it hears nothing, so it holds us
    name = next(n for pt, n in G711.values() if pt == current.payload_type)
    sdp = build_sdp(
        local_ip,
        rtp_port,
        current.payload_type,
        name,
        dtmf_payload_type=current.event_payload_type,
        session_id=origin[0],
    )
    sdp.origin.session_version = str(origin[1])
    audio_out = sdp.audio
    assert audio_out is not None
    del audio_out.attributes["sendrecv"]
    audio_out.attributes[MIRRORED[direction]] = []
    return Reoffer(negotiated, sdp, held=direction in ("sendonly", "inactive"))


@dataclass
class MediaCounts:
    """What the receive side had to repair: the detectors never see a hole, but the technician is told."""

    frames_in: int = 0
    frames_out: int = 0
    foreign_packets: int = 0
    #: time.monotonic() of the far end's last RTP packet (audio, comfort noise or event), or of the answer.
    last_packet_at: float = 0.0
    #: Times the far end's RTP source (SSRC) changed mid-call: a conference bridge, a transfer, an announcement or a
    #: media relay took over the stream. aiortp counts each source's packets afresh; these keep the earlier ones.
    source_changes: int = 0
    #: Re-INVITEs that moved the far end's audio to another address (a PBX re-anchoring it, a conference bridge).
    media_moves: int = 0
    earlier_received: int = 0
    earlier_lost: int = 0
    extra: dict[str, float | int] = field(default_factory=dict)


class FlooredPlayout(AdaptivePlayout):
    """aiortp's adaptive playout buffer, never aiming below `floor_ms` ([line] playout_floor_ms; it grows there by
    concealing one frame at a time, at most once a second, as it grows for jitter)."""

    floor_ms: float = PLAYOUT_FLOOR_MS

    @property
    def target_frames(self) -> int:
        return max(round(self.floor_ms / self._ptime_ms), super().target_frames)


class _GuardedSession(RTPSession):
    """aiortp's session, dropping RTP from any host but the far end's: the one its SDP names, or the one its SIP
    comes from (a multi-homed peer may send from either), so nobody else can inject audio into a call; its playout
    buffer is a FlooredPlayout."""

    allowed_hosts: frozenset[str] = frozenset()
    #: Set by MediaLeg once aiortp's create() returns; packets arriving before that (a far end already sending
    #: when the port is bound) are dropped, not an AttributeError traceback from inside the event loop.
    counts: MediaCounts | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self._playout is not None and self._codec is not None:
            self._playout = FlooredPlayout(
                self._codec, max_delay_ms=kwargs.get("playout_max_delay_ms", 200), clock_rate=kwargs.get("clock_rate")
            )

    def _remote_ssrc_changed(self, ssrc: int) -> None:
        counts, earlier = self.counts, self._stream_stats
        if counts is not None and earlier is not None and self._remote_ssrc is not None:
            counts.source_changes += 1
            counts.earlier_received += earlier.packets_received
            counts.earlier_lost += earlier.packets_lost
        super()._remote_ssrc_changed(ssrc)

    def _handle_rtp(self, data: bytes, addr: tuple[str, int]) -> None:
        counts = self.counts
        if counts is None:
            return
        if addr[0] not in self.allowed_hosts:
            counts.foreign_packets += 1
            return
        counts.last_packet_at = time.monotonic()
        super()._handle_rtp(data, addr)


class MediaLeg:
    """One call's RTP: far-end audio out as whole frames, our frames in as G.711 packets."""

    def __init__(
        self,
        on_frame: Callable[[np.ndarray], None],
        on_digit: Callable[[str], None],
        playout_floor_ms: float = PLAYOUT_FLOOR_MS,
    ) -> None:
        self._on_frame = on_frame
        self._on_digit = on_digit
        self._playout_floor_ms = playout_floor_ms
        self._session: _GuardedSession | None = None
        self._pending = np.zeros(0, dtype=np.int16)
        self.counts = MediaCounts()
        self.negotiated: Negotiated | None = None
        #: The far end holds the call: it may send nothing, and it hears nothing from us.
        self.held = False

    @property
    def open(self) -> bool:
        return self._session is not None

    async def start(self, bind_ip: str, rtp_port: int, negotiated: Negotiated, signalling_host: str) -> None:
        allowed = frozenset({negotiated.remote[0], signalling_host})
        if self._session is not None:
            if self.negotiated is None or negotiated.remote != self.negotiated.remote:
                self._session.update_remote(negotiated.remote)
                self.counts.media_moves += 1
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
        if isinstance(session._playout, FlooredPlayout):  # before any packet: counts is still None
            session._playout.floor_ms = self._playout_floor_ms
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

    def expect_audio(self) -> None:
        """From now on the far end owes us packets: at the answer, and when it takes the call off hold."""
        self.counts.last_packet_at = time.monotonic()

    def silent_s(self) -> float:
        """Seconds since the far end's last RTP packet (or since `expect_audio`)."""
        return time.monotonic() - self.counts.last_packet_at

    def send(self, pcm: bytes) -> None:
        if self._session is not None and not self.held:
            self._session.send_audio_pcm_auto(pcm)
            self.counts.frames_out += 1

    def stats(self) -> dict[str, float | int]:
        """Frames in and out, packets refused, packets received and lost over every RTP source the far end used,
        how often that source changed and its audio moved, and the playout buffer's concealment counts."""
        counts = self.counts
        if self._session is not None:
            s = self._session.stats
            counts.extra = {
                k: s[k] for k in ("concealed_frames", "late_dropped", "underrun_suspensions", "cn_frames") if k in s
            }
            if "packets_received" in s:
                counts.extra["packets_received"] = counts.earlier_received + s["packets_received"]
                counts.extra["packets_lost"] = counts.earlier_lost + s["packets_lost"]
        return {
            "frames_in": counts.frames_in,
            "frames_out": counts.frames_out,
            "foreign_packets": counts.foreign_packets,
            "source_changes": counts.source_changes,
            "media_moves": counts.media_moves,
            **counts.extra,
        }

    async def close(self) -> None:
        if self._session is not None:
            self.stats()
            session, self._session = self._session, None
            await session.close()
