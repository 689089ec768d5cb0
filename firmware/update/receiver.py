"""The device's side of flashing: a technician's laptop offers a bundle over the sync protocol's blob messages.

The laptop opens a sync conversation with the device's technician access key (a shared secret set at
provisioning, the same for a facility's devices, so one laptop can flash them all) and offers the bundle as a
blob whose offer carries the bundle's signed header. The device refuses a bundle it would not install (bad
signature, wrong hardware, lower version, a trial still running) before a single payload byte is sent. It
receives the rest with the sync layer's resumable BlobSink (each chunk fsynced, resumed at the durable length
after any cut), checks the whole SHA-256, then installs it into the inactive slot and answers with the result.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import ssl
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware.files import TECHNICIAN_ACCESS_KEY_FILE
from firmware.store import Store
from firmware.sync.blobs import BlobSink
from firmware.sync.channel import Channel, ChannelClosed, SerialChannel, StreamChannel
from firmware.sync.conversation import RemoteError, accept_as_server, send_anonymous_error
from firmware.sync.schema import BlobChunk, BlobEnd, BlobOffer, BlobState, Body, MessageError
from firmware.tech.audit import AuditLog
from firmware.tech.home import DeviceHome, HomeError
from firmware.tech.revocations import revoked_serials
from firmware.update.assets import AssetStore
from firmware.update.bundle import BundleError, check_header, parse_header, read_header, verify
from firmware.update.delta import apply_delta, check_base, slot_image
from firmware.update.floor import read_permit_meta
from firmware.update.keys import KeyringError
from firmware.update.slots import SLOT_MANIFEST, SlotError
from firmware.update.tech_certs import technician_problem
from firmware.update.unpack import UnpackError, unpack_wheels
from hal.link import LinkError, TcpListener, open_link

log = logging.getLogger("ringfence.flash")

#: The name the technician's side uses in the sync hello; the device answers it with the access key.
TECHNICIAN = "technician"
BUNDLE_KIND = "bundle"


def bundle_blob_id(sha256: bytes) -> str:
    return "bundle-" + sha256.hex()[:32]


@dataclass
class SessionLog:
    """What one flash session did, for the audit log."""

    offered: list[str] = field(default_factory=list)
    bytes_received: int = 0
    results: list[dict[str, object]] = field(default_factory=list)


class FlashReceiver:
    """Answers blob messages for bundles: pre-check, resumable receive, verify, install."""

    def __init__(self, home: DeviceHome, store: Store, restart: Sequence[str] | None = None) -> None:
        self.home = home
        self.store = store
        self.sink = BlobSink(home.data_dir / "incoming")
        self.restart = list(restart) if restart else None
        self.session = SessionLog()
        self._allow_downgrade: dict[str, bool] = {}
        #: Downgrade permits offered with each bundle (firmware/update/floor.py).
        self._permit: dict[str, Any] = {}

    def handle(self, body: Body) -> BlobState | None:
        if isinstance(body, BlobOffer):
            return self._offer(body)
        if isinstance(body, BlobChunk):
            self.sink.chunk(body)
            self.session.bytes_received += len(body.data)
            return None
        if isinstance(body, BlobEnd):
            state = self.sink.end(body)
            return self._install(body.id) if state.status == "complete" else state
        raise MessageError("unexpected", f"{type(body).__name__.lower()} is not part of flashing")

    def _refuse(self, offer: BlobOffer, code: str, message: str) -> BlobState:
        self.session.results.append({"blob": offer.id, "result": code, "message": message})
        return BlobState(id=offer.id, have=0, status="refused", reason=f"{code}: {message}")

    def _offer(self, offer: BlobOffer) -> BlobState:
        if offer.kind != BUNDLE_KIND or offer.id != bundle_blob_id(offer.sha256):
            return self._refuse(offer, "not_a_bundle", f"blob {offer.id} of kind {offer.kind} is not a bundle")
        self.session.offered.append(offer.id)
        allow_downgrade = offer.meta.get("allow_downgrade") == "yes"
        try:
            header_bytes = base64.b64decode(offer.meta.get("header", ""), validate=True)
            header = parse_header(header_bytes, self.home.keyring())
            installed_in = self._slot_holding(hashlib.sha256(header_bytes).hexdigest())
            if installed_in is not None:
                return self._already(offer, header.manifest.version, installed_in)
            if header.total_size != offer.size:
                return self._refuse(
                    offer, "truncated", f"offer of {offer.size} bytes for a bundle of {header.total_size}"
                )
            permit = None
            if header.manifest.kind == "assets":  # for the asset store beside the slots (firmware/update/assets.py)
                check_header(header, self.home.keyring())
                AssetStore(self.home.root).precheck(header, self.home.hardware(), allow_downgrade)
            else:
                check_header(header, self.home.keyring(), self.home.hardware(), self._installed(), allow_downgrade)
                if header.manifest.delta is not None:
                    # Only once its signature is checked may a delta's claim about its target be believed.
                    installed_in = self._slot_holding(header.manifest.delta.target_header_sha256)
                    if installed_in is not None:
                        return self._already(offer, header.manifest.version, installed_in)
                    check_base(header, self._good_header_sha256(), self._installed())
                permit = read_permit_meta(offer.meta.get("permit", ""))
                self.home.slots().precheck(
                    header, self.home.hardware(), allow_downgrade, self.home.keyring(), self._device_id(), permit
                )
        except BundleError as exc:
            return self._refuse(offer, exc.reason.value, str(exc))
        except (ValueError, KeyringError, HomeError) as exc:
            return self._refuse(offer, "not_a_bundle", str(exc))
        except SlotError as exc:
            return self._refuse(offer, "busy", str(exc))
        self._allow_downgrade[offer.id] = allow_downgrade
        self._permit[offer.id] = permit
        if offer.meta.get("dry_run") == "yes":
            have = self._durable_length(offer.id)
            return BlobState(
                id=offer.id,
                have=have,
                status="partial",
                reason=f"dry run: would install {header.manifest.version}, resuming at byte {have}",
            )
        state = self.sink.offer(offer)
        if state.status == "complete":
            return self._install(offer.id)
        return state

    @staticmethod
    def _already(offer: BlobOffer, version: str, slot: str) -> BlobState:
        return BlobState(
            id=offer.id, have=offer.size, status="complete", reason=f"installed {version} in slot {slot} (already)"
        )

    def _slot_holding(self, digest: str) -> str | None:
        """The trial or good slot that already holds exactly this bundle (the header's SHA-256; a delta's target's):
        a repeated flash is answered, not redone."""
        state = self.home.slots().load()
        for slot in (state.trial, state.good):
            if slot is not None and state.slots[slot].header_sha256 == digest:
                return slot
        return None

    def _good_header_sha256(self) -> str | None:
        state = self.home.slots().load()
        return state.slots[state.good].header_sha256 if state.good is not None else None

    def _patched(self, path: Path, allow_downgrade: bool) -> Path:
        """The full bundle a received delta makes from the good slot; the slots are not touched on any failure."""
        with open(path, "rb") as stream:
            if read_header(stream, str(path)).manifest.delta is None:
                return path
        header = verify(path, self.home.keyring(), self.home.hardware(), self._installed(), allow_downgrade)
        check_base(header, self._good_header_sha256(), self._installed())
        manager = self.home.slots()
        good = manager.load().good
        assert good is not None
        directory = manager.slot_dir(good)
        base_bytes = (directory / SLOT_MANIFEST).read_bytes()
        base = slot_image(base_bytes, parse_header(base_bytes), directory)
        target = path.with_name(path.name + ".target")
        apply_delta(path, header, base, target)
        return target

    def _durable_length(self, blob_id: str) -> int:
        _done, part, _offer = self.sink.paths(blob_id)
        return part.stat().st_size if part.exists() else 0

    def _device_id(self) -> str | None:
        return self.home.identity().device_id if self.home.identity_path.exists() else None

    def _installed(self) -> str | None:
        return self.home.slots().installed_version()

    def _install(self, blob_id: str) -> BlobState:
        received = self.sink.complete_path(blob_id)
        assert received is not None
        size = received.stat().st_size
        path = received
        try:
            keyring = self.home.keyring()
            hardware = self.home.hardware()
            with open(received, "rb") as stream:
                is_assets = read_header(stream, str(received)).manifest.kind == "assets"
            if is_assets:
                sha, version = AssetStore(self.home.root).install(
                    received, keyring, hardware, self._allow_downgrade.get(blob_id, False)
                )
                received.unlink(missing_ok=True)
                self.session.results.append({"blob": blob_id, "result": "installed", "assets": sha, "version": version})
                return BlobState(
                    id=blob_id, have=size, status="complete", reason=f"installed assets {version} as {sha}"
                )
            path = self._patched(received, self._allow_downgrade.get(blob_id, False))
            manager = self.home.slots(self.store)
            if manager.load().good is None:
                result = manager.seed(
                    path, keyring, hardware, prepare=unpack_wheels, keyring_path=self.home.keyring_path
                )
            else:
                result = manager.install(
                    path,
                    keyring,
                    hardware,
                    self._allow_downgrade.get(blob_id, False),
                    prepare=unpack_wheels,
                    keyring_path=self.home.keyring_path,
                    permit=self._permit.get(blob_id),
                    device_id=self._device_id(),
                )
            keyring.save(self.home.keyring_path)
        except BundleError as exc:
            received.unlink(missing_ok=True)
            path.unlink(missing_ok=True)
            self.session.results.append({"blob": blob_id, "result": exc.reason.value, "message": str(exc)})
            return BlobState(id=blob_id, have=0, status="refused", reason=f"{exc.reason.value}: {exc}")
        except (SlotError, UnpackError, KeyringError, HomeError, OSError) as exc:
            if path != received:
                path.unlink(missing_ok=True)
            self.session.results.append({"blob": blob_id, "result": "install_failed", "message": str(exc)})
            return BlobState(id=blob_id, have=size, status="refused", reason=f"install_failed: {exc}")
        received.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        self.session.results.append(
            {
                "blob": blob_id,
                "result": "installed",
                "version": result.version,
                "slot": result.slot,
                "previous": result.previous,
            }
        )
        if self.restart:
            threading.Timer(1.0, subprocess.run, args=(self.restart,), kwargs={"check": False}).start()
        return BlobState(
            id=blob_id, have=size, status="complete", reason=f"installed {result.version} in slot {result.slot}"
        )


def access_key(home: DeviceHome) -> bytes:
    path = home.etc / TECHNICIAN_ACCESS_KEY_FILE
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        raise HomeError(f"{home.root}: no technician access key (is the device provisioned?)") from None
    except ValueError:
        raise HomeError(f"{path}: not a hex key") from None


def serve_session(
    channel: Channel, home: DeviceHome, timeout: float, restart: Sequence[str] | None, url: str = ""
) -> None:
    """One technician session; every outcome (even a refused handshake) ends it cleanly and is audited."""
    key = access_key(home)
    store = home.store()
    receiver = FlashReceiver(home, store, restart)
    ended = "closed"
    try:
        conv, _hello = accept_as_server(channel, lambda name: key if name == TECHNICIAN else None, timeout, 0)
        while True:
            answer = receiver.handle(conv.recv(timeout))
            if answer is not None:
                conv.send(answer)
    except MessageError as exc:
        ended = f"refused: {exc.code}: {exc}"
        send_anonymous_error(channel, exc)
    except (ChannelClosed, TimeoutError, RemoteError, LinkError) as exc:
        ended = f"ended: {exc}"
    finally:
        if receiver.session.offered or receiver.session.results:
            AuditLog(store).record(
                "flash",
                {
                    "link": url,
                    "ended": ended,
                    "offered": receiver.session.offered,
                    "bytes_received": receiver.session.bytes_received,
                    "results": receiver.session.results,
                },
            )
        store.close()
        log.info("flash session %s", ended)


def serve(
    url: str,
    home: DeviceHome,
    stop: threading.Event,
    timeout: float = 30.0,
    baudrate: int = 115200,
    restart: Sequence[str] | None = None,
    tls: ssl.SSLContext | None = None,
) -> None:
    """Serve technician sessions on the link until `stop`: one at a time, as a device is flashed by one laptop.

    On tcp:// with `tls` (the device's sync credentials) only a laptop with a certificate of the sync CA gets in."""
    if url.startswith("tcp://"):
        serve_tcp(TcpListener(url, tls=tls, tls_server_side=False), home, stop, timeout, restart)
        return
    serial = SerialChannel(open_link(url, baudrate), initiator=False, baudrate=baudrate)
    try:
        while not stop.is_set():
            serial.reopen()
            if serial.wait_connected(0.5):
                serve_session(serial, home, timeout, restart, url)
    finally:
        serial.close()


def _certificate_problem(home: DeviceHome, peer_der: bytes | None) -> str | None:
    store = home.store()
    try:
        return technician_problem(peer_der, revoked_serials(store))
    finally:
        store.close()


def _audit_refusal(home: DeviceHome, url: str, problem: str) -> None:
    store = home.store()
    try:
        AuditLog(store).record(
            "flash", {"link": url, "ended": f"refused: {problem}", "offered": [], "bytes_received": 0, "results": []}
        )
    finally:
        store.close()


def serve_tcp(
    listener: TcpListener,
    home: DeviceHome,
    stop: threading.Event,
    timeout: float = 30.0,
    restart: Sequence[str] | None = None,
) -> None:
    try:
        while not stop.is_set():
            link = listener.accept(timeout=0.2)
            if link is not None:
                try:
                    link.handshake(timeout)
                except LinkError as exc:  # no certificate, or one of another CA: this laptop may not flash
                    log.warning("flash session refused: %s", exc)
                    link.close()
                    continue
                problem = _certificate_problem(home, link.peer_der) if listener.tls is not None else None
                if problem is not None:  # the CA's, but not a technician's, too long-lived, or revoked
                    log.warning("flash session refused: %s", problem)
                    _audit_refusal(home, link.url, problem)
                    link.close()
                    continue
                channel = StreamChannel(link)
                try:
                    serve_session(channel, home, timeout, restart, link.url)
                finally:
                    channel.close()
    finally:
        listener.close()
