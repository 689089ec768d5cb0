"""Serial frames: COBS-encoded, zero-delimited, CRC-32 checked.

A zero byte never occurs inside a COBS-encoded frame, so a receiver that joins mid-stream, or loses bytes to
noise, resynchronises at the next zero byte. Before encoding a frame is

    u8  kind (1 data, 2 ack, 3 syn, 4 synack, 5 nak, 6 fin)
    u8  conn: the connection id the responder chose in its SYNACK (frames of an older connection are ignored)
    u16 seq, big-endian: data = frame number; ack = next frame number expected; nak = the frame expected when a
        damaged frame arrived
    u8  flags: data bit 0 = the last fragment of a message; ack bit 1 = poll (answer with an ACK at once),
        ack bit 2 = this ACK answers a poll
    ... payload (data: up to MAX_PAYLOAD bytes; syn/synack: u32 epoch; fin: u32 epoch, then why in UTF-8;
        ack: bitmap of frames held after seq)
    u32 CRC-32 (ISO-HDLC, as in zlib/Ethernet) of every byte before it, big-endian
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from enum import IntEnum

from cobs import cobs

MAX_PAYLOAD = 1024
#: The longest message either side reassembles (docs/sync-protocol.md section 3): longer ones are refused.
MAX_MESSAGE = 16 * 1024 * 1024
HEADER = struct.Struct(">BBHB")
CRC = struct.Struct(">I")
#: The longest frame on the wire: header, payload, CRC, COBS overhead, delimiter.
MAX_WIRE = HEADER.size + MAX_PAYLOAD + CRC.size + (HEADER.size + MAX_PAYLOAD + CRC.size) // 254 + 2
FLAG_LAST = 0x01
#: ACK flag: the sender heard nothing for a while and asks for an ACK at once.
FLAG_POLL = 0x02
#: ACK flag: this ACK answers a POLL (so every frame sent before that poll and not acknowledged was lost).
FLAG_ANSWER = 0x04

_crc32 = zlib.crc32  # CRC-32 (IEEE 802.3), the C implementation in the standard library


class FrameKind(IntEnum):
    DATA = 1
    ACK = 2
    SYN = 3
    SYNACK = 4
    NAK = 5
    FIN = 6


@dataclass(frozen=True)
class Frame:
    kind: FrameKind
    conn: int
    seq: int
    flags: int = 0
    payload: bytes = b""


@dataclass(frozen=True)
class FrameError:
    """A stretch of bytes between delimiters that was not a frame, and why; the decoder carries on."""

    reason: str
    length: int


def encode(frame: Frame) -> bytes:
    body = HEADER.pack(frame.kind, frame.conn & 0xFF, frame.seq & 0xFFFF, frame.flags) + frame.payload
    return cobs.encode(body + CRC.pack(_crc32(body))) + b"\x00"


def decode_one(encoded: bytes) -> Frame | FrameError:
    """One delimiter-free stretch of bytes, to a frame or to the reason it is not one."""
    try:
        raw = cobs.decode(encoded)
    except cobs.DecodeError as exc:
        return FrameError(f"bad COBS encoding: {exc}", len(encoded))
    if len(raw) < HEADER.size + CRC.size:
        return FrameError(f"frame of {len(raw)} bytes is shorter than header and CRC", len(encoded))
    body, (crc,) = raw[: -CRC.size], CRC.unpack(raw[-CRC.size :])
    if _crc32(body) != crc:
        return FrameError("CRC mismatch", len(encoded))
    kind, conn, seq, flags = HEADER.unpack_from(body)
    if kind not in FrameKind._value2member_map_:
        return FrameError(f"unknown frame kind {kind}", len(encoded))
    payload = body[HEADER.size :]
    if len(payload) > MAX_PAYLOAD:
        return FrameError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}", len(encoded))
    return Frame(FrameKind(kind), conn, seq, flags, payload)


class FrameDecoder:
    """Bytes in, frames and errors out, in arrival order; memory stays bounded whatever arrives."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._overflowed = False

    def feed(self, data: bytes) -> list[Frame | FrameError]:
        out: list[Frame | FrameError] = []
        for piece_index, piece in enumerate(bytes(data).split(b"\x00")):
            if piece_index > 0:
                out.extend(self._finish())
            self._buffer += piece
            if len(self._buffer) > MAX_WIRE:
                self._overflowed = True
                self._buffer.clear()
        return out

    def _finish(self) -> list[Frame | FrameError]:
        encoded = bytes(self._buffer)
        self._buffer.clear()
        if self._overflowed:
            self._overflowed = False
            return [FrameError(f"no delimiter within {MAX_WIRE} bytes", len(encoded))]
        if not encoded:
            return []
        return [decode_one(encoded)]
