"""Serial frames: what survives the line, what is refused, and that no input can crash or stall the decoder."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.sync.framing import MAX_PAYLOAD, MAX_WIRE, Frame, FrameDecoder, FrameError, FrameKind, encode

FRAME = Frame(FrameKind.DATA, 7, 513, 1, b"hello\x00world" * 10)


def test_a_frame_round_trips_and_contains_no_zero_but_its_delimiter() -> None:
    wire = encode(FRAME)
    assert wire.count(0) == 1 and wire.endswith(b"\x00")
    assert FrameDecoder().feed(wire) == [FRAME]


def test_a_full_payload_fits_the_longest_wire_frame_one_byte_more_does_not() -> None:
    full = encode(Frame(FrameKind.DATA, 1, 1, 0, b"\xff" * MAX_PAYLOAD))
    assert len(full) <= MAX_WIRE
    assert FrameDecoder().feed(full) == [Frame(FrameKind.DATA, 1, 1, 0, b"\xff" * MAX_PAYLOAD)]
    over = FrameDecoder().feed(encode(Frame(FrameKind.DATA, 1, 1, 0, b"\xff" * (MAX_PAYLOAD + 1))))
    assert len(over) == 1 and isinstance(over[0], FrameError)


def test_every_single_bit_flip_is_detected() -> None:
    wire = encode(FRAME)
    for index in range(len(wire) - 1):
        for bit in range(8):
            damaged = bytearray(wire)
            damaged[index] ^= 1 << bit
            assert FRAME not in FrameDecoder().feed(bytes(damaged)), (index, bit)


def test_a_frame_split_across_reads_and_after_garbage_still_arrives() -> None:
    decoder = FrameDecoder()
    wire = encode(FRAME)
    out = decoder.feed(b"\x13\x37garbage\x00" + wire[:5])
    assert len(out) == 1 and isinstance(out[0], FrameError)
    assert decoder.feed(wire[5:]) == [FRAME]


def test_a_stream_without_delimiters_is_refused_once_then_the_next_frame_decodes() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(b"\x01" * (3 * MAX_WIRE)) == []
    out = decoder.feed(b"\x00" + encode(FRAME))
    assert isinstance(out[0], FrameError) and "no delimiter" in out[0].reason
    assert out[1:] == [FRAME]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4 * MAX_WIRE))
def test_arbitrary_bytes_give_frames_or_clear_errors_and_then_a_good_frame_decodes(junk: bytes) -> None:
    decoder = FrameDecoder()
    for item in decoder.feed(junk):
        assert isinstance(item, Frame | FrameError)
        if isinstance(item, FrameError):
            assert item.reason
    assert decoder.feed(b"\x00" + encode(FRAME))[-1] == FRAME
