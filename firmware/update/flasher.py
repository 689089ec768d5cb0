"""The technician's side of flashing: offer a bundle to a device, resume after any cut, report the outcome.

Over serial the sync protocol's acknowledged frames carry the messages; over the network, length-prefixed
messages on TCP. Either way every message is authenticated with the technician access key and counted
against replay (firmware.sync.envelope); the bundle itself is public and carries its own signature. A cut link
is retried from where the device's durable copy ends, so a flash never sends a byte twice more than it must.
"""

from __future__ import annotations

import base64
import ssl
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from firmware.errors import ExitCode
from firmware.sync.blobs import sha256_file
from firmware.sync.channel import Channel, ChannelClosed, SerialChannel, StreamChannel, WrongProtocol, finish
from firmware.sync.conversation import RemoteError, open_as_device
from firmware.sync.credentials import Credentials
from firmware.sync.schema import BlobChunk, BlobEnd, BlobOffer, BlobState, MessageError
from firmware.sync.tls import client_context, server_context
from firmware.update.bundle import read_header
from firmware.update.floor import permit_meta
from firmware.update.receiver import BUNDLE_KIND, TECHNICIAN, bundle_blob_id
from hal.link import LinkError, open_link

Status = Literal["installed", "dry_run", "refused", "install_failed", "link_failed"]
Progress = Callable[[int, int], None]
#: A bundle to offer: its path, its size and its offer.
Payload = tuple[Path, int, BlobOffer]
CHUNK = 32 * 1024
#: Errors from the device worth reconnecting for; any other (bad_mac, unknown_device, version) will not change.
#: Refusals of a delta after which the full bundle is offered: another base, or a device that predates deltas.
DELTA_FALLBACK = ("wrong_base", "invalid_manifest")
RETRYABLE_REMOTE = {"internal", "timeout", "unexpected", "replay", "malformed"}

EXIT_CODES: dict[Status, int] = {
    "installed": ExitCode.OK,
    "dry_run": ExitCode.OK,
    "refused": ExitCode.REFUSED,
    "link_failed": ExitCode.LINK,
    "install_failed": ExitCode.INSTALL_FAILED,
}


@dataclass
class FlashOutcome:
    url: str
    status: Status
    message: str
    size: int
    bytes_sent: int = 0
    resumed_from: list[int] = field(default_factory=list)
    attempts: int = 0
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def to_record(self) -> dict[str, object]:
        return {"event": "result", **asdict(self), "exit_code": self.exit_code}


def laptop_tls(creds: Credentials) -> ssl.SSLContext:
    """The sync protocol's TLS, with the laptop as the TLS server (it connects, then answers the handshake).

    Roles are swapped because certificates carry their purpose: a device's sync certificate is a client's, and
    a technician's (`ringfence central enroll --technician`) a server's. So the device shows the certificate it
    shows the central server, and only a technician's certificate (never another device's) can flash it. The
    device must show a certificate of the same CA (CERT_REQUIRED); its name is the link's `peer_name`."""
    return server_context(creds)


def device_tls(creds: Credentials) -> ssl.SSLContext:
    """The device's side of a technician's TLS link: its own sync certificate, the laptop's checked against the
    sync CA. The laptop is reached by no name, so its certificate's purpose (a server's) is what is checked."""
    context = client_context(creds)
    context.check_hostname = False
    return context


def open_channel(url: str, baudrate: int, timeout: float, tls: ssl.SSLContext | None = None) -> Channel:
    """tcp:// is TLS when `tls` is given, else plain TCP (every message still carries the access key's MAC)."""
    if url.startswith("tcp://"):
        return StreamChannel(open_link(url, baudrate, timeout, tls=tls, tls_server_side=True))
    channel = SerialChannel(open_link(url, baudrate), initiator=True, baudrate=baudrate)
    if not channel.wait_connected(timeout):
        channel.close()
        raise ChannelClosed(f"link {url}: no answer from the device within {timeout:.0f} s")
    return channel


@dataclass(frozen=True)
class _TryAgain:
    """An attempt that failed in a way a reconnect may cure (a cut link, a busy device); `reason` is reported if
    every attempt fails so."""

    reason: str


#: What one attempt comes to: a final status with its message, or another try.
Attempt = tuple[Status, str] | _TryAgain
#: Failures of the link or its messages that a reconnect may cure.
LINK_FAILURES = (ChannelClosed, TimeoutError, LinkError, MessageError, OSError)


class Flasher:
    def __init__(
        self,
        bundle: Path,
        access_key: bytes,
        *,
        allow_downgrade: bool = False,
        permit: Any | None = None,
        dry_run: bool = False,
        timeout: float = 15.0,
        install_timeout: float = 600.0,
        retries: int = 5,
        retry_delay: float = 1.0,
        baudrate: int = 115200,
        chunk: int = CHUNK,
        connect: Callable[[str, int, float], Channel] = open_channel,
        delta: Path | None = None,
    ) -> None:
        """`delta` (a delta bundle of `bundle`) is offered first; a device that runs another base gets `bundle`."""
        self.meta = {
            "allow_downgrade": "yes" if allow_downgrade else "no",
            "dry_run": "yes" if dry_run else "no",
            **({"permit": permit_meta(permit)} if permit is not None else {}),
        }
        self.full = self._payload(bundle)
        self.delta = self._payload(delta) if delta is not None else None
        self.bundle, self.size, self.offer = self.full
        self.access_key = access_key
        self.dry_run = dry_run
        self.timeout = timeout
        self.install_timeout = install_timeout
        self.retries = retries
        self.retry_delay = retry_delay
        self.baudrate = baudrate
        self.chunk = chunk
        self.connect = connect

    def _payload(self, path: Path) -> Payload:
        with open(path, "rb") as stream:
            header = read_header(stream, str(path))
            stream.seek(0)
            header_bytes = stream.read(header.length)
        digest = sha256_file(path)
        offer = BlobOffer(
            id=bundle_blob_id(digest),
            kind=BUNDLE_KIND,
            size=path.stat().st_size,
            sha256=digest,
            meta={
                "header": base64.b64encode(header_bytes).decode("ascii"),
                "version": header.manifest.version,
                **self.meta,
            },
        )
        return path, offer.size, offer

    def flash(self, url: str, progress: Progress = lambda sent, total: None) -> FlashOutcome:
        """The delta when the device takes it, else the full bundle (the outcome's message says which)."""
        if self.delta is None:
            return self._flash(url, progress, self.full)
        outcome = self._flash(url, progress, self.delta)
        if outcome.status == "refused" and outcome.message.startswith(DELTA_FALLBACK):
            refused = outcome.message
            outcome = self._flash(url, progress, self.full)
            outcome.message = f"{outcome.message} (full bundle; the delta was refused: {refused})"
        else:
            outcome.message = f"{outcome.message} (delta of {outcome.size} bytes)"
        return outcome

    def _flash(self, url: str, progress: Progress, payload: Payload) -> FlashOutcome:
        outcome = FlashOutcome(url, "link_failed", "", payload[1])
        started = time.monotonic()
        last_error = ""
        while outcome.attempts <= self.retries:
            if outcome.attempts:
                time.sleep(self.retry_delay)
            outcome.attempts += 1
            result = self._attempt(url, outcome, progress, payload)
            if isinstance(result, _TryAgain):
                last_error = result.reason
                continue
            outcome.status, outcome.message = result
            break
        else:
            outcome.message = f"gave up after {outcome.attempts} attempts: {last_error}"
        outcome.seconds = time.monotonic() - started
        return outcome

    def _attempt(self, url: str, outcome: FlashOutcome, progress: Progress, payload: Payload) -> Attempt:
        """One connection: its final status, or another try when the link or a busy device failed it."""
        try:
            channel = self.connect(url, self.baudrate, self.timeout)
        except LinkError as exc:
            # A serial device that does not open on the first try is absent: retrying will not help. A network
            # device may still be starting its receiver, so tcp:// keeps its retries.
            if outcome.attempts == 1 and not url.startswith("tcp://"):
                return "link_failed", str(exc)
            return _TryAgain(str(exc))
        except WrongProtocol as exc:
            return "link_failed", str(exc)
        except LINK_FAILURES as exc:
            return _TryAgain(str(exc))
        try:
            return self._offer(channel, outcome, progress, payload)
        except RemoteError as exc:
            if exc.code not in RETRYABLE_REMOTE:
                return "refused", f"access_denied: {exc}"
            return _TryAgain(str(exc))
        except WrongProtocol as exc:
            return "link_failed", str(exc)
        except LINK_FAILURES as exc:
            return _TryAgain(str(exc))
        finally:
            finish(channel)

    def _offer(self, channel: Channel, outcome: FlashOutcome, progress: Progress, payload: Payload) -> Attempt:
        """Offer the bundle on an open channel and send what the device lacks, from where its copy ends."""
        bundle, size, offer = payload
        conv, _welcome = open_as_device(channel, TECHNICIAN, self.access_key, self.timeout)
        conv.send(offer)
        state = self._state(offer, conv.recv(self.install_timeout))
        if state.status == "refused":
            return self._refusal(state.reason)
        if state.status == "complete":
            return "installed", state.reason
        if self.dry_run:
            return "dry_run", state.reason
        offset = state.have
        outcome.resumed_from.append(offset)
        progress(offset, size)
        with open(bundle, "rb") as data:
            data.seek(offset)
            while offset < size:
                piece = data.read(min(self.chunk, size - offset))
                conv.send(BlobChunk(id=offer.id, offset=offset, data=piece))
                offset += len(piece)
                outcome.bytes_sent += len(piece)
                progress(offset, size)
        conv.send(BlobEnd(id=offer.id))
        final = self._state(offer, conv.recv(self.install_timeout))
        if final.status == "complete":
            return "installed", final.reason
        if final.status == "refused":
            return self._refusal(final.reason)
        return _TryAgain(f"device holds {final.have} of {size} bytes: {final.reason}")

    @staticmethod
    def _state(offer: BlobOffer, body: object) -> BlobState:
        if not isinstance(body, BlobState) or body.id != offer.id:
            raise MessageError("unexpected", f"expected blob_state for {offer.id}, got {type(body).__name__}")
        return body

    @staticmethod
    def _refusal(reason: str) -> tuple[Status, str]:
        return ("install_failed" if reason.startswith("install_failed") else "refused"), reason
