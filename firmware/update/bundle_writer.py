"""Writing a signed firmware bundle (the layout firmware/update/bundle.py reads and checks).

Kept apart from the reading side: a device only reads and checks bundles; building one (payload files, the
locked package set, the signed manifest) is the vendor's side: `ringfence bundle build` and delta bundles.
"""

from __future__ import annotations

import hashlib
import os
import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import zstandard
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from firmware.update.bundle import CHUNK, MAGIC, SIGNATURE_CONTEXT, BundleFile, DeltaBase, Header, Manifest
from firmware.update.keys import key_id
from firmware.update.platforms import check_wheels_for


def _sha256_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as src:
        while block := src.read(CHUNK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def packages_of(paths: list[Path]) -> dict[str, str]:
    """name -> version of every wheel among the files: the locked set the bundle carries."""
    packages: dict[str, str] = {}
    for path in paths:
        if path.suffix == ".whl":
            try:
                name, version, _, _ = parse_wheel_filename(path.name)
            except InvalidWheelFilename as exc:
                raise ValueError(f"{path}: {exc}") from None
            packages[str(name)] = str(version)
    return packages


def build(
    files: list[Path],
    version: str,
    hardware: list[str],
    key: Ed25519PrivateKey,
    out: Path,
    compression: Literal["none", "zstd"] = "none",
    rotations: list[dict[str, object]] | None = None,
    level: int = 10,
    delta: DeltaBase | None = None,
    kind: Literal["assets"] | None = None,
    assets: str | None = None,
    names: dict[Path, str] | None = None,
) -> Header:
    """Write a signed bundle of `files` to `out` (atomically: a half-built bundle never has the final name).
    `names` gives a file another name in the bundle (an asset bundle's `prompts+en+greeting.flac`)."""
    stored_names = names or {}
    names_of = [stored_names.get(p, p.name) for p in files]
    duplicates = sorted({n for n in names_of if names_of.count(n) > 1})
    if duplicates:
        raise ValueError(f"two payload files have the same name: {', '.join(duplicates)}")
    check_wheels_for(files, hardware)
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = out.with_name(out.name + ".payload.tmp")
    entries: list[BundleFile] = []
    try:
        with open(staged, "wb") as payload:
            for path in sorted(files, key=lambda p: stored_names.get(p, p.name)):
                sha, size = _sha256_file(path)
                start = payload.tell()
                if compression == "zstd":
                    with open(path, "rb") as src:
                        data = zstandard.ZstdCompressor(level=level).compress(src.read())
                    payload.write(data)
                    stored_sha, stored_size = hashlib.sha256(data).hexdigest(), len(data)
                else:
                    with open(path, "rb") as src:
                        while block := src.read(CHUNK):
                            payload.write(block)
                    stored_sha, stored_size = sha, size
                assert payload.tell() - start == stored_size
                entries.append(
                    BundleFile(
                        name=stored_names.get(path, path.name),
                        size=size,
                        sha256=sha,
                        stored_size=stored_size,
                        stored_sha256=stored_sha,
                    )
                )
        manifest = Manifest(
            version=version,
            hardware=sorted(set(hardware)),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            compression=compression,
            packages=packages_of(files),
            files=entries,
            rotations=rotations or [],
            delta=delta,
            kind=kind,
            assets=assets,
        )
        manifest_bytes = manifest.canonical()
        signature = key.sign(SIGNATURE_CONTEXT + manifest_bytes)
        tmp = out.with_name(out.name + ".tmp")
        with open(tmp, "wb") as bundle, open(staged, "rb") as payload:
            bundle.write(MAGIC + struct.pack(">I", len(manifest_bytes)) + manifest_bytes)
            bundle.write(key_id(key.public_key()).encode("ascii") + signature)
            while block := payload.read(CHUNK):
                bundle.write(block)
            bundle.flush()
            os.fsync(bundle.fileno())
        os.replace(tmp, out)
    finally:
        staged.unlink(missing_ok=True)
    return Header(manifest, manifest_bytes, key_id(key.public_key()), signature)
