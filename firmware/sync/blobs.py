"""Resumable, hash-checked transfer of large files (call recordings up, firmware bundles down).

The same four messages work in both directions. The sender offers (id, kind, size, SHA-256); the receiver
answers with how many bytes of that exact blob it already holds durably; the sender streams chunks from there
and ends; the receiver checks the whole hash before it keeps the file. A cut link costs only the chunks in
flight: the next offer resumes at the receiver's durable length. To fetch a blob, ask with blob_request.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from firmware.sync.schema import BlobChunk, BlobEnd, BlobOffer, BlobRequest, BlobState, Body, MessageError

CHUNK = 32 * 1024
#: A blob id is a file name: it starts with a letter or digit (so never "." or ".."), matched whole (no newline).
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class Sender(Protocol):
    def send(self, body: Body) -> None: ...


class Messenger(Sender, Protocol):
    def recv(self, timeout: float) -> Body: ...


class BlobRefused(RuntimeError):
    pass


def sha256_file(path: Path) -> bytes:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()


@dataclass(frozen=True)
class FileBlob:
    """A file to send, with its identity."""

    id: str
    kind: str
    path: Path
    meta: dict[str, str]

    def offer(self) -> BlobOffer:
        return BlobOffer(
            id=self.id, kind=self.kind, size=self.path.stat().st_size, sha256=sha256_file(self.path), meta=self.meta
        )


class BlobSink:
    """Receives blobs into a directory: `<id>.part` grows chunk by chunk (each fsynced), `<id>` is complete."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._offers: dict[str, BlobOffer] = {}
        self._failed: dict[str, BlobState] = {}

    def paths(self, blob_id: str) -> tuple[Path, Path, Path]:
        """The complete file, the partial file and the offer record of a blob; refuses an unsafe id."""
        if not _SAFE_ID.fullmatch(blob_id):
            raise MessageError(
                "malformed",
                f"blob id {blob_id!r}: only letters, digits, '.', '_' and '-', starting with a letter or digit",
            )
        base = self.directory / blob_id
        return base, base.with_name(blob_id + ".part"), base.with_name(blob_id + ".offer")

    def complete_path(self, blob_id: str) -> Path | None:
        done, _part, _meta = self.paths(blob_id)
        return done if done.exists() else None

    def offer(self, offer: BlobOffer) -> BlobState:
        done, part, meta = self.paths(offer.id)
        if done.exists():
            if sha256_file(done) == offer.sha256:
                return BlobState(id=offer.id, have=offer.size, status="complete")
            return BlobState(id=offer.id, have=0, status="refused", reason="a different blob with this id exists")
        self._offers[offer.id] = offer
        self._failed.pop(offer.id, None)
        known = json.loads(meta.read_text()) if meta.exists() else None
        if known != {"size": offer.size, "sha256": offer.sha256.hex()} or not part.exists():
            part.write_bytes(b"")
            meta.write_text(json.dumps({"size": offer.size, "sha256": offer.sha256.hex()}))
        have = min(part.stat().st_size, offer.size)
        return BlobState(id=offer.id, have=have, status="partial")

    def chunk(self, chunk: BlobChunk) -> None:
        """Append a chunk durably. Nothing is answered per chunk: a bad one is remembered and reported at end."""
        offer = self._offers.get(chunk.id)
        if offer is None or chunk.id in self._failed:
            return
        _done, part, _meta = self.paths(chunk.id)
        have = part.stat().st_size
        if chunk.offset != have or have + len(chunk.data) > offer.size:
            self._failed[chunk.id] = BlobState(
                id=chunk.id,
                have=have,
                status="partial",
                reason=f"chunk at {chunk.offset} of {len(chunk.data)} bytes; expected offset {have}"
                f" within size {offer.size}",
            )
            return
        with part.open("ab") as out:
            out.write(chunk.data)
            out.flush()
            os.fsync(out.fileno())

    def end(self, end: BlobEnd) -> BlobState:
        offer = self._offers.pop(end.id, None)
        done, part, meta = self.paths(end.id)
        if offer is None:
            return BlobState(id=end.id, have=0, status="refused", reason="end of a blob not offered")
        failed = self._failed.pop(end.id, None)
        if failed is not None:
            return failed
        have = part.stat().st_size
        if have != offer.size:
            return BlobState(id=end.id, have=have, status="partial", reason=f"have {have} of {offer.size} bytes")
        if sha256_file(part) != offer.sha256:
            part.unlink()
            meta.unlink(missing_ok=True)
            return BlobState(id=end.id, have=0, status="refused", reason="SHA-256 mismatch; start again")
        os.replace(part, done)
        meta.unlink(missing_ok=True)
        return BlobState(id=end.id, have=have, status="complete")

    def handle(self, body: Body) -> BlobState | None:
        """The receiver's whole protocol: the state to answer an offer or an end with; None for a chunk."""
        if isinstance(body, BlobOffer):
            return self.offer(body)
        if isinstance(body, BlobChunk):
            self.chunk(body)
            return None
        if isinstance(body, BlobEnd):
            return self.end(body)
        raise MessageError("unexpected", f"{type(body).__name__} is not a blob message")


def stream_from(peer: Sender, blob: FileBlob, offer: BlobOffer, have: int, chunk_size: int = CHUNK) -> None:
    """Send the chunks from `have` to the end, then blob_end; the answer is read by the caller."""
    with blob.path.open("rb") as data:
        data.seek(have)
        offset = have
        while offset < offer.size:
            piece = data.read(min(chunk_size, offer.size - offset))
            if not piece:
                raise BlobRefused(f"blob {blob.id}: {blob.path} shrank while sending")
            peer.send(BlobChunk(id=blob.id, offset=offset, data=piece))
            offset += len(piece)
    peer.send(BlobEnd(id=blob.id))


def send_blob(peer: Messenger, blob: FileBlob, timeout: float, chunk_size: int = CHUNK) -> int:
    """Offer, resume where the receiver is, stream, and confirm. Returns the bytes sent this time."""
    offer = blob.offer()
    peer.send(offer)
    state = blob_state(peer.recv(timeout), blob.id)
    if state.status == "complete":
        return 0
    if state.status == "refused":
        raise BlobRefused(f"blob {blob.id}: refused: {state.reason}")
    stream_from(peer, blob, offer, state.have, chunk_size)
    final = blob_state(peer.recv(timeout), blob.id)
    if final.status != "complete":
        raise BlobRefused(f"blob {blob.id}: not complete after sending: {final.status} {final.reason}")
    return offer.size - state.have


def fetch_blob(peer: Messenger, blob_id: str, sink: BlobSink, timeout: float) -> Path:
    """Ask the peer for a blob; it then sends exactly as send_blob does, resuming from what `sink` holds."""
    peer.send(BlobRequest(id=blob_id))
    offer = peer.recv(timeout)
    if isinstance(offer, BlobState):
        raise BlobRefused(f"blob {blob_id}: the other side cannot send it: {offer.reason}")
    if not isinstance(offer, BlobOffer) or offer.id != blob_id:
        raise MessageError("unexpected", f"expected blob_offer for {blob_id}, got {type(offer).__name__}")
    state = sink.offer(offer)
    peer.send(state)
    if state.status == "refused":
        raise BlobRefused(f"blob {blob_id}: {state.reason}")
    while state.status != "complete":
        body = peer.recv(timeout)
        if not isinstance(body, BlobChunk | BlobEnd) or body.id != blob_id:
            raise MessageError("unexpected", f"expected blob_chunk or blob_end for {blob_id}")
        answer = sink.handle(body)
        if answer is not None:
            peer.send(answer)
            if answer.status != "complete":
                raise BlobRefused(f"blob {blob_id}: {answer.status}: {answer.reason}")
            state = answer
    path = sink.complete_path(blob_id)
    assert path is not None
    return path


def serve_request(
    peer: Messenger, request: BlobRequest, find: Callable[[str], FileBlob | None], timeout: float
) -> None:
    """Answer a blob_request: send the blob as send_blob does, or a refusal if there is no such blob."""
    blob = find(request.id)
    if blob is None:
        peer.send(BlobState(id=request.id, have=0, status="refused", reason="no such blob"))
        return
    send_blob(peer, blob, timeout)


def blob_state(body: Body, blob_id: str) -> BlobState:
    if not isinstance(body, BlobState) or body.id != blob_id:
        raise MessageError("unexpected", f"expected blob_state for {blob_id}, got {type(body).__name__}")
    return body
