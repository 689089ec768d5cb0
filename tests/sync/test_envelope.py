"""The envelope: authenticated, counted, compressed when it pays; every bad message is one clear error."""

from __future__ import annotations

import msgpack
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.sync.envelope import (
    COMPRESS_MIN,
    FLAG_ZSTD,
    HEADER,
    MAC_LEN,
    MAX_BODY,
    Opener,
    Sealer,
    mac,
    open_sealed,
    seal,
)
from firmware.sync.schema import Changes, MessageError, MsgType, Pull, PushAck

KEY = b"k" * 32


def test_a_sealed_message_opens_to_the_same_body() -> None:
    body = Pull(since=5, after=0, upto=0, max_items=100)
    envelope = open_sealed(seal(body, 3, KEY), KEY)
    assert (envelope.msg_type, envelope.counter, envelope.body) == (MsgType.PULL, 3, body)


def test_a_body_below_the_threshold_is_sent_plain_and_a_large_one_compressed() -> None:
    small = seal(PushAck(ids=["a"]), 1, KEY)
    assert small[2] == 0
    many = Changes(
        full=True,
        upto=9,
        last=9,
        more=False,
        items={"inmates": [(f"I{i:05d}", '{"status":"active"}') for i in range(200)]},
    )
    big = seal(many, 1, KEY)
    assert big[2] == FLAG_ZSTD and len(big) < len(msgpack.packb(many.model_dump())) / 4
    assert open_sealed(big, KEY).body == many
    assert COMPRESS_MIN == 256


def test_a_wrong_key_or_any_changed_byte_is_refused() -> None:
    data = seal(Pull(since=1), 1, KEY)
    with pytest.raises(MessageError) as caught:
        open_sealed(data, b"x" * 32)
    assert caught.value.code == "bad_mac"
    for index in range(len(data)):
        damaged = bytearray(data)
        damaged[index] ^= 0x01
        with pytest.raises(MessageError):
            open_sealed(bytes(damaged), KEY)


def test_counters_must_follow_exactly_replays_and_skips_are_refused() -> None:
    sealer, opener = Sealer(KEY), Opener(KEY)
    first, second, third = (sealer.seal(Pull(since=i)) for i in range(3))
    opener.open(first)
    with pytest.raises(MessageError) as skipped:
        opener.open(third)
    assert skipped.value.code == "out_of_order"
    opener.open(second)
    with pytest.raises(MessageError) as replayed:
        opener.open(first)
    assert replayed.value.code == "replay"
    assert opener.open(third).counter == 3


def test_a_missing_field_is_named() -> None:
    raw = HEADER.pack(1, MsgType.PULL, 0, 1) + msgpack.packb({"after": 1})
    with pytest.raises(MessageError, match="pull: field since"):
        open_sealed(raw + mac(KEY, raw), KEY)


def test_an_unknown_type_and_a_newer_version_are_named() -> None:
    raw = HEADER.pack(1, 99, 0, 1) + msgpack.packb({})
    with pytest.raises(MessageError, match="unknown message type 99"):
        open_sealed(raw + mac(KEY, raw), KEY)
    raw = HEADER.pack(2, 4, 0, 1) + msgpack.packb({})
    with pytest.raises(MessageError, match="protocol version 2") as caught:
        open_sealed(raw + mac(KEY, raw), KEY)
    assert caught.value.code == "version"


def test_a_compression_bomb_is_refused_just_above_the_limit_and_accepted_at_it() -> None:
    def sealed_with_padding(size: int) -> bytes:
        body = msgpack.packb({"since": 1, "pad": b"\x00" * size})
        packed = zstandard.ZstdCompressor().compress(body)
        raw = HEADER.pack(1, MsgType.PULL, FLAG_ZSTD, 1) + packed
        return raw + mac(KEY, raw)

    overhead = len(msgpack.packb({"since": 1, "pad": b"\x00" * 70000})) - 70000
    assert open_sealed(sealed_with_padding(MAX_BODY - overhead), KEY).body == Pull(since=1)
    with pytest.raises(MessageError, match="decompress|larger"):
        open_sealed(sealed_with_padding(MAX_BODY - overhead + 1), KEY)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_are_a_clear_error(junk: bytes) -> None:
    with pytest.raises(MessageError) as caught:
        open_sealed(junk, KEY)
    assert caught.value.code and str(caught.value)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=512))
def test_arbitrary_bodies_with_a_valid_mac_are_a_clear_error_or_a_valid_message(
    code: int, flags: int, body: bytes
) -> None:
    raw = HEADER.pack(1, code, flags, 1) + body
    try:
        envelope = open_sealed(raw + mac(KEY, raw), KEY)
    except MessageError as exc:
        assert exc.code in {"malformed", "version"} and str(exc)
    else:
        assert envelope.msg_type == code


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["since", "after", "upto", "max_items", "x"]),
        st.one_of(st.integers(-5, 10**12), st.text(max_size=5), st.none(), st.binary(max_size=4)),
    )
)
def test_arbitrary_fields_in_a_pull_are_a_clear_error_or_a_valid_pull(fields: dict[str, object]) -> None:
    raw = HEADER.pack(1, MsgType.PULL, 0, 1) + msgpack.packb(fields, use_bin_type=True)
    try:
        body = open_sealed(raw + mac(KEY, raw), KEY).body
    except MessageError as exc:
        assert exc.code == "malformed" and "pull" in str(exc)
    else:
        assert isinstance(body, Pull) and body.since >= 0
    assert MAC_LEN == 16
