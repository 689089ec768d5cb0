"""Connection ids on the serial line: frames left over from an earlier connection never count in a new one.

Each frame names its connection in one byte. Were that byte the low byte of the device's random epoch, one new
connection in 256 would share the previous one's id, and the previous connection's frames still waiting in a
port's buffer (a reply the old device never read, a request the server never read) would be taken as the new
connection's: a stale answer delivered, and the real frame with the same number dropped as a duplicate.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.sync.arq import ArqEndpoint
from firmware.sync.framing import Frame, FrameDecoder, FrameKind

RTO = 0.5


def handshake(device: ArqEndpoint, server: ArqEndpoint, now: float) -> None:
    server.receive_bytes(device.poll(now), now)
    device.receive_bytes(server.poll(now), now)
    assert device.connected and server.connected


def exchange(device: ArqEndpoint, server: ArqEndpoint, now: float) -> tuple[list[bytes], list[bytes]]:
    """Move frames both ways over a clean line until nothing is outstanding; what each side received."""
    to_server: list[bytes] = []
    to_device: list[bytes] = []
    for _ in range(200):
        server.receive_bytes(device.poll(now), now)
        device.receive_bytes(server.poll(now), now)
        to_server += server.messages()
        to_device += device.messages()
        if device.queued_frames() == 0 and server.queued_frames() == 0:
            break
        now += 0.01
    return to_server, to_device


def conn_bytes(data: bytes) -> set[int]:
    return {item.conn for item in FrameDecoder().feed(data) if isinstance(item, Frame)}


def test_stale_frames_of_the_previous_connection_are_refused_even_when_the_epochs_low_bytes_match() -> None:
    server = ArqEndpoint(False, rto=RTO)
    old_device = ArqEndpoint(True, epoch=0x1111_1142, rto=RTO)
    handshake(old_device, server, 0.0)
    old_device.send_message(b"old request")
    server.send_message(b"old answer")
    stale_up = old_device.poll(0.1)  # the old device wrote it and restarted: it waits in the server's port
    stale_down = server.poll(0.1)  # the server wrote it to the old device: it waits in the device's port
    assert stale_up and stale_down

    new_device = ArqEndpoint(True, epoch=0x2222_2242, rto=RTO)  # the same low byte as the old epoch
    handshake(new_device, server, 1.0)
    assert new_device.conn == server.conn != old_device.conn, "the new connection has an id of its own"

    server.receive_bytes(stale_up, 1.1)
    new_device.receive_bytes(stale_down, 1.1)
    new_device.send_message(b"new request")
    server.send_message(b"new answer")
    to_server, to_device = exchange(new_device, server, 1.2)
    assert to_server == [b"new request"], "nothing of the old connection, and the new request once"
    assert to_device == [b"new answer"]


def test_consecutive_connections_never_share_an_id() -> None:
    """Whatever epochs the devices pick (here all with one low byte), the server gives each new connection an id
    unlike the one before."""
    server = ArqEndpoint(False, rto=RTO)
    ids: list[int] = []
    for n in range(300):
        device = ArqEndpoint(True, epoch=(n << 8) | 0x42, rto=RTO)
        handshake(device, server, float(n))
        ids.append(device.conn)
    assert all(a != b for a, b in zip(ids, ids[1:], strict=False))


def test_the_id_is_the_epochs_low_byte_unless_that_repeats_the_previous_one() -> None:
    """So a peer built before SYNACK carried the id (it takes its epoch's low byte) still works, except in the one
    connection in 256 whose low byte repeats: there it cannot connect and tries again, never mixing sessions."""
    server = ArqEndpoint(False, rto=RTO)
    for n, epoch in enumerate((0x0000_0107, 0x0000_0208, 0x0000_0309, 0x0000_0409)):
        device = ArqEndpoint(True, epoch=epoch, rto=RTO)
        handshake(device, server, float(n))
        assert device.conn == (0x0A if epoch == 0x0000_0409 else epoch & 0xFF)


def test_a_repeated_syn_of_the_current_connection_keeps_its_id_and_its_frames() -> None:
    """A device that sent SYN twice (the first answer was slow) stays on one connection: no reset, same id."""
    server = ArqEndpoint(False, rto=RTO)
    device = ArqEndpoint(True, epoch=0x0102_0304, rto=RTO)
    syn = device.poll(0.0)
    server.receive_bytes(syn, 0.0)
    first_answer = server.poll(0.0)
    server.receive_bytes(syn, 0.5)
    second_answer = server.poll(0.5)
    assert conn_bytes(first_answer) == conn_bytes(second_answer)
    device.receive_bytes(first_answer + second_answer, 0.6)
    assert device.connected and not server.reset_seen
    device.send_message(b"request")
    to_server, _ = exchange(device, server, 0.7)
    assert to_server == [b"request"]


def test_a_synack_for_another_epoch_does_not_connect_the_device() -> None:
    server = ArqEndpoint(False, rto=RTO)
    other = ArqEndpoint(True, epoch=7, rto=RTO)
    server.receive_bytes(other.poll(0.0), 0.0)
    answer_to_other = server.poll(0.0)
    device = ArqEndpoint(True, epoch=8, rto=RTO)
    device.receive_bytes(answer_to_other, 0.1)
    assert not device.connected
    assert [f.kind for f in FrameDecoder().feed(answer_to_other) if isinstance(f, Frame)] == [FrameKind.SYNACK]


def kinds(data: bytes) -> list[FrameKind]:
    return [f.kind for f in FrameDecoder().feed(data) if isinstance(f, Frame)]


def test_an_ended_connection_tells_the_peer_which_keeps_what_arrived_and_opens_nothing() -> None:
    device, server = ArqEndpoint(True, epoch=11, rto=RTO), ArqEndpoint(False, rto=RTO)
    handshake(device, server, 0.0)
    server.send_message(b"last answer")
    device.receive_bytes(server.poll(0.1), 0.1)  # arrived, not read yet
    server.receive_bytes(device.poll(0.1), 0.1)
    assert server.queued_frames() == 0
    server.end()
    fin = server.poll(1.0)
    assert kinds(fin) == [FrameKind.FIN] and not server.connected
    device.receive_bytes(fin, 1.0)
    assert device.ended_by_peer and not device.connected
    assert device.messages() == [b"last answer"], "what arrived before the end is still read"
    assert device.poll(5.0) == b"" and device.next_deadline() is None, "no new SYN: the owner decides"


def test_a_lost_fin_is_said_again_to_the_first_frame_of_the_ended_connection() -> None:
    device, server = ArqEndpoint(True, epoch=12, rto=RTO), ArqEndpoint(False, rto=RTO)
    handshake(device, server, 0.0)
    server.end()
    server.poll(1.0)  # the FIN is lost on the line
    device.send_message(b"request into an ended connection")
    server.receive_bytes(device.poll(2.0), 2.0)
    assert server.messages() == [], "an ended connection takes nothing"
    device.receive_bytes(server.poll(2.0), 2.0)
    assert device.ended_by_peer and device.queued_frames() == 0


def test_a_stale_fin_of_the_previous_connection_does_not_end_the_new_one() -> None:
    server = ArqEndpoint(False, rto=RTO)
    old = ArqEndpoint(True, epoch=0x0000_0142, rto=RTO)
    handshake(old, server, 0.0)
    server.end()
    stale_fin = server.poll(1.0)  # the old device is gone: the FIN waits in its port for the next one
    new = ArqEndpoint(True, epoch=0x0000_0242, rto=RTO)
    handshake(new, server, 2.0)
    new.receive_bytes(stale_fin, 2.1)
    assert new.connected and not new.ended_by_peer
    new.send_message(b"request")
    to_server, _ = exchange(new, server, 2.2)
    assert to_server == [b"request"]


def test_a_copy_of_the_syn_of_an_ended_connection_does_not_reopen_it() -> None:
    device, server = ArqEndpoint(True, epoch=13, rto=RTO), ArqEndpoint(False, rto=RTO)
    syn = device.poll(0.0)
    server.receive_bytes(syn, 0.0)
    device.receive_bytes(server.poll(0.0), 0.0)
    server.end()
    server.receive_bytes(syn, 1.0)  # a copy still on the line
    assert not server.connected and kinds(server.poll(1.0)) == [FrameKind.FIN]


def test_a_fins_reason_is_one_printable_line_whatever_the_peer_wrote() -> None:
    device, server = ArqEndpoint(True, epoch=14, rto=RTO), ArqEndpoint(False, rto=RTO)
    handshake(device, server, 0.0)
    server.end("idle\n\x1b[2Jfor 60 s" + "x" * 500)
    device.receive_bytes(server.poll(1.0), 1.0)
    assert device.ended_by_peer
    assert device.end_reason.startswith("idle??[2Jfor 60 s") and len(device.end_reason) == 200


def test_a_device_that_ends_its_connection_frees_the_server_for_the_next_one() -> None:
    device, server = ArqEndpoint(True, epoch=15, rto=RTO), ArqEndpoint(False, rto=RTO)
    handshake(device, server, 0.0)
    device.end("done")
    server.receive_bytes(device.poll(1.0), 1.0)
    assert server.ended_by_peer and not server.connected and server.end_reason == "done"
    assert device.poll(5.0) == b"" and device.next_deadline() is None, "an ended device opens nothing"
    again = ArqEndpoint(True, epoch=16, rto=RTO)
    handshake(again, server, 2.0)
    again.send_message(b"next session")
    to_server, _ = exchange(again, server, 2.1)
    assert to_server == [b"next session"]


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10**6))
def test_stale_frames_arriving_at_any_moment_of_the_new_connection_change_nothing(seed: int) -> None:
    """The previous connection's frames (data, acks, polls, a FIN) reach both ends at random moments of the new
    connection, whose epoch has the same low byte: every new message arrives once, in order, and nothing else."""
    rng = random.Random(seed)
    server = ArqEndpoint(False, rto=RTO)
    old = ArqEndpoint(True, epoch=0x0A00_0042, rto=RTO)
    handshake(old, server, 0.0)
    stale_up, stale_down = bytearray(), bytearray()
    for i in range(4):
        old.send_message(bytes([i]) * rng.randrange(1, 3000))
        server.send_message(bytes([100 + i]) * rng.randrange(1, 3000))
        stale_up += old.poll(0.1 * i)
        stale_down += server.poll(0.1 * i)
    server.end()
    stale_down += server.poll(1.0)
    stale = {"up": split_frames(bytes(stale_up)), "down": split_frames(bytes(stale_down))}

    new = ArqEndpoint(True, epoch=0x0B00_0042, rto=RTO)
    handshake(new, server, 2.0)
    up = [bytes([i]) * rng.randrange(1, 4000) for i in range(5)]
    down = [bytes([50 + i]) * rng.randrange(1, 4000) for i in range(5)]
    for message in up:
        new.send_message(message)
    for message in down:
        server.send_message(message)
    to_server: list[bytes] = []
    to_device: list[bytes] = []
    now = 2.0
    while now < 60.0 and (new.queued_frames() or server.queued_frames()):
        now += 0.01
        upward, downward = new.poll(now), server.poll(now)
        if stale["up"] and rng.random() < 0.3:
            upward += stale["up"].pop(rng.randrange(len(stale["up"])))
        if stale["down"] and rng.random() < 0.3:
            downward = stale["down"].pop(rng.randrange(len(stale["down"]))) + downward
        server.receive_bytes(upward, now)
        new.receive_bytes(downward, now)
        to_server += server.messages()
        to_device += new.messages()
    assert to_server == up and to_device == down
    assert new.connected and not new.ended_by_peer


def split_frames(data: bytes) -> list[bytes]:
    return [piece + b"\x00" for piece in data.split(b"\x00")[:-1]]
