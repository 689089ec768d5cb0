"""Shared fixtures for the technicians' area: a vendor key, a device keyring and small bundles."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware.tech.home import DeviceHome, Identity
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

    def make(
        version: str = "1.0.0",
        *,
        hardware: tuple[str, ...] = (HARDWARE,),
        compression: str = "none",
        key: Ed25519PrivateKey | None = None,
        size: int = 3000,
        files: dict[str, bytes] | None = None,
        rotations: list[dict[str, object]] | None = None,
    ) -> Path:
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
        bundle.build(
            paths,
            version,
            list(hardware),
            key or vendor_key,
            out,
            compression,  # type: ignore[arg-type]
            rotations,
        )
        return out

    return make


ACCESS_KEY = bytes(range(32))


@pytest.fixture
def device_home(tmp_path: Path, keyring: Keyring, make_bundle: MakeBundle) -> DeviceHome:
    """A device as it leaves the bench: identity, keyring, access key, and firmware 1.0.0 in slot a."""
    home = DeviceHome(tmp_path / "device")
    home.etc.mkdir(parents=True)
    home.identity_path.write_text(
        Identity(
            device_id="handset-7",
            hardware=HARDWARE,
            role="handset",
            facility="north",
            housing_unit="B",
            central_url="tcp://127.0.0.1:1",
            sync_key_id="0" * 16,
            provisioned_at="2026-01-01T00:00:00+00:00",
        ).model_dump_json()
    )
    keyring.save(home.keyring_path)
    (home.etc / "technician-access.key").write_text(ACCESS_KEY.hex())
    home.slots().seed(make_bundle("1.0.0"), keyring, HARDWARE)
    return home
