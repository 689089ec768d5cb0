"""Shared fixtures for the technicians' area: a vendor key, a device keyring and small bundles."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware.update import bundle
from firmware.update.keys import Keyring

HARDWARE = "rpi4-handset-v2"

MakeBundle = Callable[..., Path]


@pytest.fixture
def vendor_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def keyring(vendor_key: Ed25519PrivateKey) -> Keyring:
    ring = Keyring()
    ring.add(vendor_key.public_key())
    return ring


@pytest.fixture
def make_bundle(tmp_path: Path, vendor_key: Ed25519PrivateKey) -> MakeBundle:
    """A small bundle with a fake payload: two files whose content depends on the version."""

    def make(version: str = "1.0.0", *, hardware: tuple[str, ...] = (HARDWARE,), compression: str = "none",
             key: Ed25519PrivateKey | None = None, size: int = 3000, files: dict[str, bytes] | None = None,
             rotations: list[dict[str, object]] | None = None) -> Path:
        src = tmp_path / f"payload-{version}-{compression}"
        src.mkdir(exist_ok=True)
        contents = files or {
            "app.py": f"VERSION = {version!r}\n".encode(),
            "data.bin": bytes((i * 7 + len(version)) % 251 for i in range(size)),
        }
        paths = []
        for name, data in contents.items():
            (src / name).write_bytes(data)
            paths.append(src / name)
        out = tmp_path / f"ringfence-{version}-{compression}.rfb"
        bundle.build(paths, version, list(hardware), key or vendor_key, out, compression,  # type: ignore[arg-type]
                     rotations)
        return out

    return make
