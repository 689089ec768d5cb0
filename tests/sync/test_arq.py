"""The windowed, acknowledged frame protocol on a simulated line (virtual time, seeded faults)."""

from __future__ import annotations

import random
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.sync.arq import ArqEndpoint
from firmware.sync.framing import MAX_MESSAGE, MAX_PAYLOAD, Frame, FrameDecoder, FrameKind, encode

RTO = 0.5


def split_frames(data: bytes) -> list[bytes]:
    return [piece + b"\x00" for piece in data.split(b"\x00")[:-1]]


def run_line(
    messages_ab: list[bytes], messages_ba: list[bytes], faults: float, seed: int, limit_s: float = 600.0
) -> tuple[list[bytes], list[bytes], float]:
    """Both ends exchange messages over a line that corrupts, drops, duplicates and swaps frames."""
    rng = random.Random(seed)
    a = ArqEndpoint(True, epoch=0x01020304, rto=RTO)
    b = ArqEndpoint(False, rto=RTO)
    got_a: list[bytes] = []
    got_b: list[bytes] = []
    now = 0.0
    queued_ab = list(messages_ab)
    while now < limit_s:
        if a.connected and queued_ab:
            a.send_message(queued_ab.pop(0))
        if b.connected and messages_ba and not a.reset_seen:
            b.send_message(messages_ba.pop(0))
        for sender, receiver in ((a, b), (b, a)):
            frames = split_frames(sender.poll(now))
            delivered: list[bytes] = []
            for frame in frames:
                roll = rng.random()
                if roll < faults / 4:
                    continue
                if roll < faults / 2:
                    index = rng.randrange(len(frame))
                    frame = frame[:index] + bytes([frame[index] ^ 0x10]) + frame[index + 1 :]
                delivered.append(frame)
                if rng.random() < faults / 4:
                    delivered.append(frame)
            if len(delivered) > 1 and rng.random() < faults:
                delivered[0], delivered[1] = delivered[1], delivered[0]
            receiver.receive_bytes(b"".join(delivered), now)
        got_a += a.messages()
        got_b += b.messages()
        if not queued_ab and not messages_ba and a.queued_frames() == 0 and b.queued_frames() == 0:
            return got_b, got_a, now
        now += 0.01
    return got_b, got_a, now


def test_messages_arrive_once_in_order_over_a_clean_line() -> None:
    sent = [bytes([i]) * (i * 97 % 3000) for i in range(40)]
    received, _back, _t = run_line(sent, [], 0.0, 1)
    assert received == sent


def test_messages_arrive_once_in_order_through_ten_percent_faults_both_ways() -> None:
    up = [bytes([i % 251]) * (i * 131 % 5000 + 1) for i in range(60)]
    down = [bytes([i]) * (i * 37 % 2000 + 1) for i in range(30)]
    received_b, received_a, _t = run_line(up, list(down), 0.10, 7)
    assert received_b == up
    assert received_a == down


@settings(max_examples=25, deadline=None)
@given(st.lists(st.binary(max_size=3 * MAX_PAYLOAD), min_size=1, max_size=8), st.integers(0, 10**6))
def test_any_messages_any_fault_pattern_exactly_once(messages: list[bytes], seed: int) -> None:
    received, _back, _t = run_line(messages, [], 0.15, seed)
    assert received == messages


def connected_pair() -> tuple[ArqEndpoint, ArqEndpoint]:
    a = ArqEndpoint(True, epoch=5, rto=RTO)
    b = ArqEndpoint(False, rto=RTO)
    b.receive_bytes(a.poll(0.0), 0.0)
    a.receive_bytes(b.poll(0.0), 0.0)
    assert a.connected and b.connected
    return a, b


def kinds(data: bytes) -> list[FrameKind]:
    return [frame.kind for frame in FrameDecoder().feed(data) if isinstance(frame, Frame)]


def test_silence_is_met_with_polls_never_with_blind_resends() -> None:
    a, _b = connected_pair()
    a.send_message(b"x" * 10)
    assert kinds(a.poll(1.0)) == [FrameKind.DATA]
    assert a.poll(1.0 + a.poll_interval - 0.001) == b""
    assert kinds(a.poll(1.0 + a.poll_interval)) == [FrameKind.ACK], "a poll, not the data again"
    now = 1.0 + a.poll_interval
    while now < 1.0 + 2.5 * RTO:  # a peer busy for a while answers late: resending then would only add copies
        now += 0.01
        assert FrameKind.DATA not in kinds(a.poll(now))
    assert a.stats.frames_resent == 0 and a.stats.timeouts == 2 and a.stats.polls_sent > 2


def test_only_the_lost_frame_is_resent_as_soon_as_a_later_one_is_acknowledged() -> None:
    a, b = connected_pair()
    a.send_message(bytes(range(256)) * 12)  # 3 frames of 1024
    frames = split_frames(a.poll(0.1))
    assert len(frames) == 3
    b.receive_bytes(frames[0] + frames[2], 0.15)  # the second is lost on the line
    a.receive_bytes(b.poll(0.15), 0.2)
    resent = split_frames(a.poll(0.2))
    assert len(resent) == 1 and a.stats.frames_resent == 1
    b.receive_bytes(resent[0], 0.25)
    assert b.messages() == [bytes(range(256)) * 12]
    a.receive_bytes(b.poll(0.25), 0.3)
    assert a.queued_frames() == 0


def test_a_damaged_last_frame_is_answered_by_a_nak_and_resent_at_once() -> None:
    a, b = connected_pair()
    a.send_message(b"only frame")
    (frame,) = split_frames(a.poll(0.1))
    b.receive_bytes(frame[:3] + bytes([frame[3] ^ 0x40]) + frame[4:], 0.15)
    answer = b.poll(0.15)
    assert kinds(answer)[0] is FrameKind.NAK and b.stats.naks_sent == 1
    a.receive_bytes(answer, 0.2)
    assert kinds(a.poll(0.2)) == [FrameKind.DATA], "resent long before the timeout"
    assert a.stats.frames_resent == 1


def test_after_an_outage_the_first_answer_to_a_poll_brings_the_resends() -> None:
    a, b = connected_pair()
    a.send_message(bytes(5000))
    now, outage_ends = 0.1, 2.1
    got: list[bytes] = []
    while now < 3.0 and not got:
        to_b, to_a = a.poll(now), b.poll(now)
        if now >= outage_ends:  # before it, everything either way is lost
            b.receive_bytes(to_b, now)
            a.receive_bytes(to_a, now)
        got = b.messages()
        now += 0.01
    assert got == [bytes(5000)]
    assert now - outage_ends < 3 * a.poll_interval + 0.05, "repaired within a few polls of the line's return"
    assert a.stats.polls_sent > 0


def test_window_and_pipe_follow_the_lines_bandwidth_delay_product() -> None:
    fast = ArqEndpoint.for_line(True, 1, 115200)
    slow = ArqEndpoint.for_line(True, 1, 9600)
    # Two round trips (a full frame each way plus 50 ms) at 11,520 bytes/s are about 5.3 KB; plus two frames.
    assert 7000 < fast.pipe_bytes < 7600
    assert slow.pipe_bytes < fast.pipe_bytes and slow.rto > fast.rto
    assert fast.window == 4 * fast.pipe_bytes // 128


def test_frames_shrink_on_a_line_that_damages_many_and_grow_back_when_it_is_clean() -> None:
    a, _b = connected_pair()
    assert a.payload_size == MAX_PAYLOAD
    for _ in range(200):
        a._loss.note(True, 1040)
        a._loss.note(False, 1040)
        a._loss.note(False, 1040)
        a._loss.note(False, 1040)
        a._loss.note(False, 1040)
        a._loss.note(False, 1040)
        a._loss.note(False, 1040)
        a._loss.note(False, 1040)
        a._loss.note(False, 1040)
        a._loss.note(False, 1040)
    assert a.payload_size in (256, 384), "about 1 byte in 10,000 damaged: frames of a few hundred bytes"
    for _ in range(2000):
        a._loss.note(False, 400)
    assert a.payload_size == MAX_PAYLOAD


def test_a_new_connection_from_the_device_replaces_the_old_one() -> None:
    b = ArqEndpoint(False, rto=RTO)
    first = ArqEndpoint(True, epoch=1, rto=RTO)
    b.receive_bytes(first.poll(0.0), 0.0)
    assert b.connected and not b.reset_seen
    second = ArqEndpoint(True, epoch=2, rto=RTO)
    b.receive_bytes(second.poll(0.0), 0.0)
    assert b.reset_seen and b.epoch == 2


def test_a_peer_that_never_answers_is_declared_gone_after_the_timeout_limit() -> None:
    a = ArqEndpoint(True, epoch=3, rto=RTO, max_timeouts=3)
    b = ArqEndpoint(False, rto=RTO)
    b.receive_bytes(a.poll(0.0), 0.0)
    a.receive_bytes(b.poll(0.0), 0.0)
    a.send_message(b"lost")
    a.poll(0.0)
    now = 0.0
    while now < 4 * RTO - 0.02:
        now += 0.01
        a.poll(now)
    assert not a.failed and a.stats.timeouts == 3 and a.stats.frames_resent == 0
    a.poll(4 * RTO + 0.001)
    assert a.failed and a.queued_frames() == 0


def _unfinished_message(endpoint: ArqEndpoint, frames: int, start: int = 0) -> None:
    """DATA frames that never carry the last-fragment flag: a message that never ends."""
    for seq in range(start, start + frames):
        endpoint.receive_bytes(encode(Frame(FrameKind.DATA, endpoint.conn, seq, 0, bytes(MAX_PAYLOAD))), 0.0)
        endpoint.poll(0.0)


def test_a_message_that_never_ends_is_refused_at_the_protocols_maximum_size() -> None:
    receiver = ArqEndpoint(False, rto=RTO, max_message=64 * MAX_PAYLOAD)
    receiver.receive_bytes(encode(Frame(FrameKind.SYN, 0, 0, 0, (7).to_bytes(4, "big"))), 0.0)
    _unfinished_message(receiver, 64)
    assert not receiver.failed, "exactly the maximum is still a message in progress"
    _unfinished_message(receiver, 1, start=64)
    assert receiver.failed and "longer than 65536 bytes" in receiver.stats.last_error
    assert receiver.messages() == []


@pytest.mark.slow
def test_reassembly_memory_stays_below_the_maximum_message_whatever_arrives() -> None:
    receiver = ArqEndpoint(False, rto=RTO)
    assert receiver.max_message == MAX_MESSAGE == 16 * 1024 * 1024
    receiver.receive_bytes(encode(Frame(FrameKind.SYN, 0, 0, 0, (7).to_bytes(4, "big"))), 0.0)
    tracemalloc.start()
    _unfinished_message(receiver, MAX_MESSAGE // MAX_PAYLOAD + 8000)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert receiver.failed
    assert peak < MAX_MESSAGE * 1.3


def test_the_answer_to_a_poll_proves_loss_of_everything_sent_before_it() -> None:
    a, b = connected_pair()
    a.send_message(b"lost on the line")
    a.poll(1.0)  # the frame never arrives
    poll = a.poll(1.0 + a.poll_interval)
    assert kinds(poll) == [FrameKind.ACK] and a.stats.polls_sent == 1
    b.receive_bytes(poll, 1.0 + a.poll_interval)
    answer = b.poll(1.0 + a.poll_interval)
    a.receive_bytes(answer, 1.0 + a.poll_interval + 0.001)
    assert kinds(a.poll(1.0 + a.poll_interval + 0.001)) == [FrameKind.DATA], "resent at the answer, not at a timer"


def test_a_nak_names_the_frame_after_the_last_undamaged_one() -> None:
    a, b = connected_pair()
    a.send_message(bytes(3000))
    first, second, _third = split_frames(a.poll(0.1))
    b.receive_bytes(first + second[:5] + bytes([second[5] ^ 1]) + second[6:], 0.2)
    naks = [f for f in FrameDecoder().feed(b.poll(0.2)) if isinstance(f, Frame) and f.kind is FrameKind.NAK]
    assert [nak.seq for nak in naks] == [1]
