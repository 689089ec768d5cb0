"""Signed firmware bundles: one file with a signed manifest and the payload files it describes.

Layout (all integers big-endian):

    magic      8 bytes   b"RFBNDL01"
    mlen       4 bytes   length of the manifest
    manifest   mlen      canonical JSON (UTF-8): version, hardware, files with sizes and SHA-256s, ...
    key id     16 bytes  ASCII hex id of the signing key
    signature  64 bytes  Ed25519 over b"ringfence-bundle-v1\\0" + manifest
    payload              the files' stored bytes, in manifest order, back to back

Everything a device must decide before writing anything (who signed it, for which hardware, which version,
how long it is) is in the first few kilobytes, so a device can refuse a bundle before receiving its payload.
Every payload byte is covered by a SHA-256 in the signed manifest. Each refusal names its reason.
Writing a bundle is the vendor's side, in firmware/update/bundle_writer.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, Literal

import zstandard
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from firmware.update.keys import Keyring
from firmware.validation import summarize

MAGIC = b"RFBNDL01"
SIGNATURE_CONTEXT = b"ringfence-bundle-v1\x00"
KEY_ID_LEN = 16
SIGNATURE_LEN = 64
MAX_MANIFEST = 1 << 20
CHUNK = 1 << 20


class Refusal(StrEnum):
    """Why a bundle is refused: a stable code for machines, with a message for people."""

    NOT_A_BUNDLE = "not_a_bundle"
    TRUNCATED = "truncated"
    TOO_LONG = "too_long"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    CORRUPT = "corrupt"
    WRONG_HARDWARE = "wrong_hardware"
    DOWNGRADE = "downgrade"
    #: Signed by a trusted key, but the manifest breaks its schema (a vendor's mistake, not tampering).
    INVALID_MANIFEST = "invalid_manifest"
    #: A delta bundle made against firmware other than what this device runs (firmware/update/delta.py).
    WRONG_BASE = "wrong_base"
    #: A delta whose patched result is not the bundle its signed manifest names.
    DELTA_MISMATCH = "delta_mismatch"
    #: Firmware whose manifest names an asset set (firmware/update/assets.py) that is not installed and intact.
    MISSING_ASSETS = "missing_assets"


class BundleError(ValueError):
    def __init__(self, reason: Refusal, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class BundleFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$", max_length=200)
    #: Size and SHA-256 of the file as installed.
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    #: Size and SHA-256 of the bytes in the bundle (differs from the above when compressed).
    stored_size: int = Field(ge=0)
    stored_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class DeltaBase(BaseModel):
    """What a delta bundle patches from and what it must produce (firmware/update/delta.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    method: Literal["zstd-patch-from"] = "zstd-patch-from"
    base_version: str
    #: SHA-256 of the base bundle's header, as the device's slot record keeps it.
    base_header_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    #: The full bundle the patch must produce, byte for byte, and its header's SHA-256 (a slot that already holds
    #: it answers a repeated flash at once).
    target_header_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    target_size: int = Field(ge=0)
    target_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    #: log2 of the patch's window: what a device must allow when it decodes it.
    window_log: int = Field(ge=10, le=31)


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    format: Literal[1] = 1
    product: Literal["ringfence"] = "ringfence"
    version: str
    hardware: list[str] = Field(min_length=1)
    created_at: str
    compression: Literal["none", "zstd"] = "none"
    #: The locked set of Python distributions inside (name -> version), read from the wheels.
    packages: dict[str, str] = {}
    files: list[BundleFile]
    #: Key rotation records (firmware.update.keys) that devices apply when they install this bundle.
    rotations: list[dict[str, object]] = []
    #: Set only in a delta bundle: its one payload file patches the base into the full target bundle.
    delta: DeltaBase | None = None
    #: "assets" for an asset bundle (prompts, other large data; firmware/update/assets.py); absent for firmware.
    kind: Literal["assets"] | None = None
    #: Set in firmware that needs an asset set: the SHA-256 of that asset bundle's signed header.
    assets: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")

    @field_validator("version")
    @classmethod
    def _pep440(cls, value: str) -> str:
        try:
            Version(value)
        except InvalidVersion:
            raise ValueError(f"version {value!r} is not a PEP 440 version such as 1.4.0") from None
        return value

    @property
    def payload_size(self) -> int:
        return sum(f.stored_size for f in self.files)

    def canonical(self) -> bytes:
        # A full bundle's manifest has no "delta" key at all, so devices that predate deltas still read it.
        return json.dumps(
            self.model_dump(mode="json", exclude_none=True), sort_keys=True, separators=(",", ":")
        ).encode()


@dataclass(frozen=True)
class Header:
    manifest: Manifest
    manifest_bytes: bytes
    key_id: str
    signature: bytes

    @property
    def length(self) -> int:
        return len(MAGIC) + 4 + len(self.manifest_bytes) + KEY_ID_LEN + SIGNATURE_LEN

    @property
    def total_size(self) -> int:
        return self.length + self.manifest.payload_size

    def offsets(self) -> Iterator[tuple[BundleFile, int]]:
        offset = self.length
        for f in self.manifest.files:
            yield f, offset
            offset += f.stored_size


def header_length_needed(prefix: bytes) -> int | None:
    """How many bytes the header takes, once the first 12 are known; None if fewer are given."""
    if len(prefix) < len(MAGIC) + 4:
        return None
    if prefix[: len(MAGIC)] != MAGIC:
        raise BundleError(Refusal.NOT_A_BUNDLE, "not a ringfence bundle (wrong magic bytes at the start)")
    (mlen,) = struct.unpack(">I", prefix[8:12])
    if mlen > MAX_MANIFEST:
        raise BundleError(Refusal.NOT_A_BUNDLE, f"not a ringfence bundle (manifest length {mlen} is too large)")
    return 12 + mlen + KEY_ID_LEN + SIGNATURE_LEN


def parse_header(data: bytes, keyring: Keyring | None = None) -> Header:
    """The header at the start of `data`; raises TRUNCATED if data ends inside it. With a keyring, a manifest
    that breaks its schema is INVALID_MANIFEST when a trusted key signed it, else BAD_SIGNATURE."""
    need = header_length_needed(data)
    if need is None or len(data) < need:
        raise BundleError(
            Refusal.TRUNCATED, f"truncated: the file ends inside its header ({len(data)} of {need or 12} bytes)"
        )
    mlen = need - 12 - KEY_ID_LEN - SIGNATURE_LEN
    manifest_bytes = data[12 : 12 + mlen]
    kid_bytes = data[12 + mlen : 12 + mlen + KEY_ID_LEN]
    signature = data[12 + mlen + KEY_ID_LEN : need]
    try:
        kid = kid_bytes.decode("ascii")
        manifest = Manifest.model_validate_json(manifest_bytes)
    except ValidationError as exc:
        if (
            keyring is not None
            and kid in keyring.keys
            and keyring.verify(kid, signature, SIGNATURE_CONTEXT + manifest_bytes)
        ):
            raise BundleError(
                Refusal.INVALID_MANIFEST, f"signed, but its manifest is invalid: {summarize(exc)}"
            ) from None
        raise BundleError(Refusal.BAD_SIGNATURE, "bad signature: the manifest is damaged or was altered") from None
    except UnicodeDecodeError:
        # An unreadable manifest behind good magic bytes is tampering or corruption: the signature decides.
        raise BundleError(Refusal.BAD_SIGNATURE, "bad signature: the manifest is damaged or was altered") from None
    return Header(manifest, manifest_bytes, kid, signature)


def check_signature(header: Header, keyring: Keyring) -> None:
    if header.key_id not in keyring.keys:
        raise BundleError(
            Refusal.UNKNOWN_KEY,
            f"signed by key {header.key_id}, which this device does not trust"
            f" (trusted: {', '.join(sorted(keyring.keys)) or 'none'})",
        )
    if not keyring.verify(header.key_id, header.signature, SIGNATURE_CONTEXT + header.manifest_bytes):
        raise BundleError(Refusal.BAD_SIGNATURE, f"bad signature: the manifest does not match key {header.key_id}")


def check_target(
    manifest: Manifest, hardware: str | None, installed: str | None, allow_downgrade: bool = False
) -> None:
    """Refuse a bundle made for other hardware, or older than what runs, unless a downgrade is allowed."""
    if hardware is not None and hardware not in manifest.hardware:
        raise BundleError(
            Refusal.WRONG_HARDWARE,
            f"wrong hardware: bundle is for {', '.join(manifest.hardware)}, this device is {hardware}",
        )
    if installed is not None and not allow_downgrade and Version(manifest.version) < Version(installed):
        raise BundleError(
            Refusal.DOWNGRADE,
            f"lower version: bundle {manifest.version} is older than installed {installed}"
            " (a technician may allow a downgrade explicitly)",
        )


def check_header(
    header: Header,
    keyring: Keyring,
    hardware: str | None = None,
    installed: str | None = None,
    allow_downgrade: bool = False,
) -> None:
    """Everything that can be decided before the payload arrives."""
    check_signature(header, keyring)
    check_target(header.manifest, hardware, installed, allow_downgrade)


def read_header(stream: BinaryIO, source: str, keyring: Keyring | None = None) -> Header:
    prefix = stream.read(12)
    need = header_length_needed(prefix)
    if need is None:
        raise BundleError(Refusal.TRUNCATED, f"{source}: truncated: only {len(prefix)} bytes")
    try:
        return parse_header(prefix + stream.read(need - 12), keyring)
    except BundleError as exc:
        raise BundleError(exc.reason, f"{source}: {exc}") from None


def check_size(header: Header, actual: int, source: str) -> None:
    if actual < header.total_size:
        raise BundleError(
            Refusal.TRUNCATED,
            f"{source}: truncated: {actual} bytes, the manifest says {header.total_size}"
            f" ({header.total_size - actual} missing)",
        )
    if actual > header.total_size:
        raise BundleError(
            Refusal.TOO_LONG,
            f"{source}: {actual - header.total_size} unexpected bytes after the payload"
            f" ({actual} bytes, the manifest says {header.total_size})",
        )


def _hash_range(stream: BinaryIO, offset: int, size: int) -> str:
    digest = hashlib.sha256()
    stream.seek(offset)
    left = size
    while left:
        block = stream.read(min(CHUNK, left))
        if not block:
            break
        digest.update(block)
        left -= len(block)
    return digest.hexdigest()


def check_payload(header: Header, stream: BinaryIO, source: str) -> None:
    for f, offset in header.offsets():
        if _hash_range(stream, offset, f.stored_size) != f.stored_sha256:
            raise BundleError(
                Refusal.CORRUPT,
                f"{source}: corrupt: {f.name} does not match its SHA-256 (a changed or flipped byte)",
            )


def verify(
    path: Path,
    keyring: Keyring,
    hardware: str | None = None,
    installed: str | None = None,
    allow_downgrade: bool = False,
) -> Header:
    """Every check, in the order that gives the most useful message: shape, size, signature, bytes, target."""
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise BundleError(Refusal.NOT_A_BUNDLE, f"{path}: cannot read ({exc.strerror})") from None
    with stream:
        header = read_header(stream, str(path), keyring)
        check_size(header, os.fstat(stream.fileno()).st_size, str(path))
        try:
            check_signature(header, keyring)
        except BundleError as exc:
            raise BundleError(exc.reason, f"{path}: {exc}") from None
        check_payload(header, stream, str(path))
    try:
        check_target(header.manifest, hardware, installed, allow_downgrade)
    except BundleError as exc:
        raise BundleError(exc.reason, f"{path}: {exc}") from None
    return header


def open_stored(path: Path, header: Header, f: BundleFile) -> BinaryIO:
    """A stream of one file's installed bytes (decompressed when the bundle is compressed)."""
    offset = {g.name: o for g, o in header.offsets()}[f.name]
    stream = path.open("rb")
    stream.seek(offset)
    raw = _Window(stream, f.stored_size)
    if header.manifest.compression == "zstd":
        # _Window is a readable binary stream; zstandard's annotations name only IO[bytes] and buffers.
        return zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)  # type: ignore[arg-type]
    return raw  # type: ignore[return-value]


class _Window(io.RawIOBase):
    """Read at most `size` bytes from the stream's current position."""

    def __init__(self, stream: BinaryIO, size: int) -> None:
        self._stream = stream
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        n = min(len(buffer), self._left)
        data = self._stream.read(n)
        buffer[: len(data)] = data
        self._left -= len(data)
        return len(data)

    def close(self) -> None:
        self._stream.close()
        super().close()
