"""The message envelope: version, type, flags, counter, body, and a MAC with the device's own key.

    offset 0  u8   protocol version (1)
           1  u8   message type (schema.MsgType)
           2  u8   flags: bit 0 = body is zstd-compressed
           3  u32  counter, big-endian: 0 for hello/welcome, then 1, 2, 3 ... per direction and session
           7  ...  body: a msgpack map (zstd frame when flag bit 0 is set)
         -16  16   MAC: the first 16 bytes of HMAC-SHA256(key, every byte before the MAC)

`hello` is sealed with the device key itself. Every later message is sealed with a per-direction session key
derived from the device key and both sides' fresh nonces, and its counter must be exactly one more than the
previous one: a replayed, dropped, duplicated or reordered message is refused, and a replay of an old session
fails because the other side's nonce is new every time.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import threading
from dataclasses import dataclass

import msgpack
import zstandard

from firmware.sync.schema import PROTOCOL_VERSION, TYPES, Body, MessageError, MsgType, parse_body

HEADER = struct.Struct(">BBBI")
MAC_LEN = 16
FLAG_ZSTD = 0x01
#: Bodies smaller than this are sent as they are: compressing them costs more than it saves.
COMPRESS_MIN = 256
#: No message may unpack to more than this, whatever its compressed size says (a zstd bomb is refused).
MAX_BODY = 8 * 1024 * 1024


def mac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()[:MAC_LEN]


@dataclass(frozen=True)
class SessionKeys:
    """Keys for one session, one per direction, so a message can never be reflected back to its sender."""

    device_to_server: bytes
    server_to_device: bytes

    @classmethod
    def derive(cls, device_key: bytes, device_nonce: bytes, server_nonce: bytes) -> SessionKeys:
        def one(label: bytes) -> bytes:
            return hmac.new(
                device_key, b"ringfence-sync-v1 " + label + device_nonce + server_nonce, hashlib.sha256
            ).digest()

        return cls(one(b"d2s"), one(b"s2d"))


@dataclass(frozen=True)
class Envelope:
    msg_type: MsgType
    counter: int
    body: Body


_local = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    """One per thread: a zstd compressor must never be used by two threads at once."""
    compressor = getattr(_local, "compressor", None)
    if compressor is None:
        compressor = _local.compressor = zstandard.ZstdCompressor(level=6)
    return compressor


def seal(body: Body, counter: int, key: bytes, compress: bool = True) -> bytes:
    raw = msgpack.packb(body.model_dump(mode="python"), use_bin_type=True)
    flags = 0
    if compress and len(raw) >= COMPRESS_MIN:
        packed = _compressor().compress(raw)
        if len(packed) < len(raw):
            raw, flags = packed, FLAG_ZSTD
    head = HEADER.pack(PROTOCOL_VERSION, TYPES[type(body)], flags, counter)
    data = head + raw
    return data + mac(key, data)


def peek(data: bytes) -> tuple[int, int, int]:
    """Version, type and counter, before the MAC is checked (to choose the key); nothing is trusted yet."""
    if len(data) < HEADER.size + MAC_LEN:
        raise MessageError("malformed", f"message of {len(data)} bytes is shorter than the envelope")
    version, code, _flags, counter = HEADER.unpack_from(data)
    if version != PROTOCOL_VERSION:
        raise MessageError("version", f"protocol version {version} is not supported (this side speaks 1)")
    return version, code, counter


def open_sealed(data: bytes, key: bytes) -> Envelope:
    """Check the MAC first, then unpack: nothing in an unauthenticated message is ever acted on."""
    _version, code, counter = peek(data)
    if not hmac.compare_digest(mac(key, data[:-MAC_LEN]), data[-MAC_LEN:]):
        raise MessageError("bad_mac", "message authentication failed (wrong key or altered message)")
    flags = data[2]
    raw = data[HEADER.size : -MAC_LEN]
    if flags & ~FLAG_ZSTD:
        raise MessageError("malformed", f"unknown flags 0x{flags:02x}")
    if flags & FLAG_ZSTD:
        try:
            declared = zstandard.frame_content_size(raw)
            if declared > MAX_BODY:
                raise MessageError("malformed", f"body would be {declared} bytes, larger than {MAX_BODY}")
            raw = zstandard.ZstdDecompressor().decompress(raw, max_output_size=MAX_BODY)
        except zstandard.ZstdError as exc:
            raise MessageError("malformed", f"compressed body does not decompress: {exc}") from None
        if len(raw) > MAX_BODY:
            raise MessageError("malformed", f"body is larger than {MAX_BODY} bytes")
    try:
        decoded = msgpack.unpackb(raw, raw=False, strict_map_key=True, use_list=True)
    except (ValueError, msgpack.UnpackException, TypeError) as exc:
        raise MessageError("malformed", f"body is not msgpack: {exc}") from None
    body = parse_body(code, decoded)
    return Envelope(MsgType(code), counter, body)


class Sealer:
    """The sending half of a session: counts messages and seals them with this direction's key."""

    def __init__(self, key: bytes, first_counter: int = 1) -> None:
        self.key = key
        self.counter = first_counter

    def seal(self, body: Body) -> bytes:
        data = seal(body, self.counter, self.key)
        self.counter += 1
        return data


class Opener:
    """The receiving half: accepts only the next counter, so nothing is replayed, skipped or swapped."""

    def __init__(self, key: bytes, first_counter: int = 1) -> None:
        self.key = key
        self.expected = first_counter

    def open(self, data: bytes) -> Envelope:
        envelope = open_sealed(data, self.key)
        if envelope.counter != self.expected:
            raise MessageError(
                "replay" if envelope.counter < self.expected else "out_of_order",
                f"message counter {envelope.counter}, expected {self.expected}",
            )
        self.expected += 1
        return envelope
