"""Resumable, hash-checked blob transfer in both directions, over a real session."""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from pathlib import Path

import pytest

from firmware.store import Store
from firmware.sync.blobs import BlobRefused, BlobSink, FileBlob, fetch_blob, send_blob
from firmware.sync.channel import ChannelClosed
from firmware.sync.conversation import accept_as_server, open_as_device
from firmware.sync.device_session import queue_blob
from firmware.sync.schema import BlobChunk, BlobEnd, BlobOffer
from sim.central.server import Session
from tests.sync.conftest import DEVICE, World, channel_pair, run_session


def recording(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def test_a_queued_recording_arrives_whole_and_is_not_sent_twice(world: World) -> None:
    store = world.store()
    source = recording(world.tmp / "call.wav", 200_000)
    queue_blob(store, "rec-1", "recording", source, {"call": "c1"})
    first = run_session(world, store)
    assert first.blobs == 1 and first.blob_bytes == 200_000
    kept = world.config().blob_dir / "received" / DEVICE / "rec-1"
    assert kept.read_bytes() == source.read_bytes()
    assert run_session(world, store).blobs == 0


def test_a_transfer_cut_half_way_resumes_from_what_the_receiver_holds(world: World) -> None:
    store = world.store()
    source = recording(world.tmp / "call.wav", 300_000)
    sink = BlobSink(world.config().blob_dir / "received" / DEVICE)
    offer = FileBlob("rec-2", "recording", source, {}).offer()
    sink.offer(offer)
    data = source.read_bytes()
    for offset in range(0, 100_000, 50_000):
        sink.chunk(BlobChunk(id="rec-2", offset=offset, data=data[offset : offset + 50_000]))
    queue_blob(store, "rec-2", "recording", source)
    report = run_session(world, store)
    assert report.blob_bytes == 200_000
    assert (sink.directory / "rec-2").read_bytes() == source.read_bytes()


def test_a_damaged_transfer_is_refused_and_the_partial_file_discarded(tmp_path: Path) -> None:
    sink = BlobSink(tmp_path)
    data = b"abcdefgh"
    sink.offer(BlobOffer(id="b", kind="k", size=8, sha256=hashlib.sha256(data).digest()))
    sink.chunk(BlobChunk(id="b", offset=0, data=b"abcdXfgh"))
    state = sink.end(BlobEnd(id="b"))
    assert state.status == "refused" and "SHA-256" in state.reason
    assert not (tmp_path / "b").exists() and not (tmp_path / "b.part").exists()


def test_a_chunk_out_of_place_is_reported_at_the_end_and_resumable(tmp_path: Path) -> None:
    sink = BlobSink(tmp_path)
    data = b"0123456789"
    offer = BlobOffer(id="c", kind="k", size=10, sha256=hashlib.sha256(data).digest())
    sink.offer(offer)
    sink.chunk(BlobChunk(id="c", offset=0, data=data[:4]))
    sink.chunk(BlobChunk(id="c", offset=6, data=data[6:]))
    state = sink.end(BlobEnd(id="c"))
    assert state.status == "partial" and "expected offset 4" in state.reason
    again = sink.offer(offer)
    assert again.have == 4
    sink.chunk(BlobChunk(id="c", offset=4, data=data[4:]))
    assert sink.end(BlobEnd(id="c")).status == "complete"


def test_an_unsafe_blob_id_is_refused_with_its_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="blob id '../etc'"):
        BlobSink(tmp_path).offer(BlobOffer(id="../etc", kind="k", size=1, sha256=bytes(32)))


def test_a_device_fetches_a_published_bundle_and_an_unknown_one_is_refused(world: World) -> None:
    published = world.config().published_dir
    published.mkdir(parents=True)
    bundle = recording(published / "fw-1.2.0", 100_000)
    device_side, server_side = channel_pair()

    def serve() -> None:
        conv, _hello = accept_as_server(server_side, world.central().key_for, 5.0, 0)
        with contextlib.suppress(ChannelClosed):  # the session ends when the device closes
            Session(conv, world.central(), world.config()).serve()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    conv, _welcome = open_as_device(device_side, DEVICE, world.key, 5.0)
    sink = BlobSink(world.tmp / "bundles")
    assert fetch_blob(conv, "fw-1.2.0", sink, 5.0).read_bytes() == bundle.read_bytes()
    with pytest.raises(BlobRefused, match="no such blob"):
        fetch_blob(conv, "fw-9.9.9", sink, 5.0)
    device_side.close()
    thread.join(5)
    server_side.close()


def test_send_blob_reports_nothing_to_send_when_the_receiver_has_it(world: World, tmp_path: Path) -> None:
    store: Store = world.store()
    source = recording(tmp_path / "r.wav", 1000)
    queue_blob(store, "rec-3", "recording", source)
    run_session(world, store)
    device_side, server_side = channel_pair()
    thread = threading.Thread(target=lambda: _serve_quietly(world, server_side), daemon=True)
    thread.start()
    conv, _w = open_as_device(device_side, DEVICE, world.key, 5.0)
    assert send_blob(conv, FileBlob("rec-3", "recording", source, {}), 5.0) == 0
    device_side.close()
    thread.join(5)


def _serve_quietly(world: World, channel: object) -> None:
    from sim.central.server import serve_channel

    serve_channel(channel, world.config())  # type: ignore[arg-type]
