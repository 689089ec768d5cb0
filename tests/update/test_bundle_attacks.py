"""Validly signed but hostile bundles: a manifest that lies about sizes, and one that breaks its schema."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware.tech.home import DeviceHome
from firmware.update import bundle
from firmware.update.bundle import BundleError, Refusal
from firmware.update.keys import Keyring, key_id
from firmware.update.slots import SlotManager
from tests.update.conftest import HARDWARE, MakeBundle


def resign(path: Path, key: Ed25519PrivateKey, change: Callable[[dict[str, Any]], object]) -> Path:
    """The bundle with its manifest changed by `change(dict)` and signed again by `key` (a vendor's mistake)."""
    data = path.read_bytes()
    (mlen,) = struct.unpack(">I", data[8:12])
    manifest = json.loads(data[12 : 12 + mlen])
    change(manifest)
    raw = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    signature = key.sign(bundle.SIGNATURE_CONTEXT + raw)
    rest = data[12 + mlen + bundle.KEY_ID_LEN + bundle.SIGNATURE_LEN :]
    out = path.with_name("hostile-" + path.name)
    out.write_bytes(
        bundle.MAGIC + struct.pack(">I", len(raw)) + raw + key_id(key.public_key()).encode("ascii") + signature + rest
    )
    return out


def test_a_bomb_that_declares_one_byte_stops_at_one_byte(
    tmp_path: Path, make_bundle: MakeBundle, vendor_key: Ed25519PrivateKey, keyring: Keyring
) -> None:
    big = 32 << 20
    made = make_bundle("2.0.0", compression="zstd", files={"app.py": b"VERSION = '2.0.0'\n", "big.bin": bytes(big)})

    def declare_one_byte(manifest: dict) -> None:
        for f in manifest["files"]:
            if f["name"] == "big.bin":
                f["size"] = 1

    hostile = resign(made, vendor_key, declare_one_byte)
    written: list[int] = []
    root = tmp_path / "slots"

    def watch(point: str) -> None:
        if point == "chunk:big.bin":
            written.append(sum(p.stat().st_size for p in root.rglob("big.bin*")))

    manager = SlotManager(root, checkpoint=watch)
    manager.seed(make_bundle("1.0.0"), keyring, HARDWARE)
    with pytest.raises(BundleError) as refused:
        manager.install(hostile, keyring, HARDWARE)
    assert refused.value.reason is Refusal.CORRUPT
    assert "big.bin expands past the 1 bytes its manifest declares" in str(refused.value)
    assert max(written, default=0) <= 1  # before: 32 MiB written before the read-back refused it
    assert not list(root.rglob("big.bin*"))
    assert manager.load().good == "a"


def test_a_validly_signed_schema_invalid_manifest_is_invalid_not_a_bad_signature(
    make_bundle: MakeBundle, vendor_key: Ed25519PrivateKey, keyring: Keyring, device_home: DeviceHome
) -> None:
    made = make_bundle("2.0.0")
    hostile = resign(made, vendor_key, lambda m: m.update(version="two"))
    with pytest.raises(BundleError) as refused:
        bundle.verify(hostile, keyring, HARDWARE)
    assert refused.value.reason is Refusal.INVALID_MANIFEST
    assert "signed, but its manifest is invalid: version" in str(refused.value)
    forged = resign(made, Ed25519PrivateKey.generate(), lambda m: m.update(version="two"))
    with pytest.raises(BundleError) as unknown:
        bundle.verify(forged, keyring, HARDWARE)
    assert unknown.value.reason in {Refusal.BAD_SIGNATURE, Refusal.UNKNOWN_KEY}


@pytest.mark.parametrize("name", ["../../etc/cron.d/x", "/etc/passwd", "lib/../../x", "app.py\n", ".hidden", ""])
def test_a_signed_file_name_that_leaves_the_slot_is_refused_before_anything_is_written(
    tmp_path: Path, make_bundle: MakeBundle, vendor_key: Ed25519PrivateKey, keyring: Keyring, name: str
) -> None:
    made = make_bundle("2.0.0")

    def rename(manifest: dict) -> None:
        manifest["files"][0]["name"] = name

    hostile = resign(made, vendor_key, rename)
    root = tmp_path / "deep" / "slots"
    manager = SlotManager(root)
    manager.seed(make_bundle("1.0.0"), keyring, HARDWARE)
    with pytest.raises(BundleError) as refused:
        manager.install(hostile, keyring, HARDWARE)
    assert refused.value.reason is Refusal.INVALID_MANIFEST
    assert not manager.slot_dir("b").exists()
    assert sorted(p.name for p in (tmp_path / "deep").iterdir()) == ["slots"]


def test_a_symlink_planted_in_the_inactive_slot_does_not_redirect_the_install(
    tmp_path: Path, make_bundle: MakeBundle, keyring: Keyring
) -> None:
    """Someone with the SD card links slot b's files elsewhere, hoping the next install writes through them."""
    manager = SlotManager(tmp_path / "slots")
    manager.seed(make_bundle("1.0.0"), keyring, HARDWARE)
    outside = tmp_path / "outside.txt"
    outside.write_text("untouched")
    planted = manager.slot_dir("b")
    planted.mkdir(parents=True)
    newer = make_bundle("2.0.0")
    with newer.open("rb") as stream:
        names = [f.name for f in bundle.read_header(stream, str(newer)).manifest.files]
    for name in names:
        (planted / name).symlink_to(outside)
        (planted / (name + ".part")).symlink_to(outside)
    manager.install(newer, keyring, HARDWARE)
    assert outside.read_text() == "untouched"
    assert not any(p.is_symlink() for p in planted.rglob("*"))
