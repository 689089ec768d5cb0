"""Messages dropped, duplicated, reordered or altered inside a session are refused; the next session agrees."""

from __future__ import annotations

import threading

import pytest

from firmware.store.outbox import Outbox
from firmware.sync.channel import Channel, ChannelClosed
from firmware.sync.conversation import RemoteError
from firmware.sync.device_session import DeviceSync, queue_blob
from firmware.sync.schema import MessageError
from sim.central.server import serve_channel
from tests.sync.conftest import DEVICE, World, channel_pair, run_session


class MessageFaults:
    """Device-side channel that mangles the n-th message it sends."""

    def __init__(self, inner: Channel, nth: int, fault: str) -> None:
        self.inner, self.nth, self.fault = inner, nth, fault
        self.count = 0
        self.held: bytes | None = None
        self.bytes_written = self.bytes_read = 0

    def send(self, data: bytes) -> None:
        self.count += 1
        if self.count == self.nth:
            if self.fault == "drop":
                return
            if self.fault == "duplicate":
                self.inner.send(data)
            if self.fault == "reorder":
                self.held = data
                return
            if self.fault == "alter":
                data = data[:9] + bytes([data[9] ^ 1]) + data[10:]
        self.inner.send(data)
        if self.held is not None and self.count == self.nth + 1:
            self.inner.send(self.held)
            self.held = None

    def recv(self, timeout: float) -> bytes:
        return self.inner.recv(timeout)

    def close(self) -> None:
        self.inner.close()


@pytest.mark.parametrize("fault", ["drop", "duplicate", "reorder", "alter"])
def test_a_mangled_push_is_refused_and_nothing_is_counted_twice(world: World, fault: str) -> None:
    store = world.store()
    outbox = Outbox(store)
    for i in range(450):
        outbox.append("call", {"n": i})
    recording = world.tmp / "call.wav"
    recording.write_bytes(bytes(range(256)) * 500)
    queue_blob(store, "rec-1", "recording", recording)
    device_side, server_side = channel_pair()
    thread = threading.Thread(target=serve_channel, args=(server_side, world.config()), daemon=True)
    thread.start()
    # Device messages: hello, pull, push (200), push (200), push (50), blob_offer, blob_chunk x4, blob_end.
    # A request waits for its answer, so only streamed chunks can overtake each other: swap chunks 1 and 2.
    faulty = MessageFaults(device_side, 7 if fault == "reorder" else 4, fault)
    with pytest.raises((RemoteError, ChannelClosed, TimeoutError, MessageError)) as caught:
        DeviceSync(store, DEVICE, world.key, timeout=1.0).run(faulty)
    if fault != "drop":  # a dropped request is noticed by the timeout
        assert isinstance(caught.value, RemoteError)
        assert caught.value.code in {"replay", "out_of_order", "bad_mac", "unexpected"}
    device_side.close()
    thread.join(10)
    server_side.close()
    report = run_session(world, store)
    assert report.agree and outbox.count_pending() == 0
    assert world.central().received_count(DEVICE) == 450
    assert (world.config().blob_dir / "received" / DEVICE / "rec-1").read_bytes() == recording.read_bytes()
