"""Asset bundles flash like firmware, over the same receiver: refused before any payload byte when firmware's
assets are missing, installed into the asset store beside the slots when they are the assets."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware.errors import ExitCode
from firmware.tech.home import DeviceHome
from firmware.update import bundle_writer
from firmware.update.assets import AssetStore, header_sha256
from tests.update.conftest import HARDWARE
from tests.update.test_flash import MemoryDevice, flasher


def asset_bundle(tmp_path: Path, key: Ed25519PrivateKey, version: str, data: bytes) -> Path:
    source = tmp_path / f"audio-{version}.flac"
    source.write_bytes(data)
    out = tmp_path / f"prompts-{version}.rfb"
    bundle_writer.build([source], version, [HARDWARE], key, out, kind="assets", names={source: "prompts+en+hello.flac"})
    return out


def app_bundle(tmp_path: Path, key: Ed25519PrivateKey, version: str, assets: Path) -> Path:
    source = tmp_path / "app.py"
    source.write_text(f"VERSION = {version!r}\n")
    out = tmp_path / f"fw-{version}.rfb"
    bundle_writer.build([source], version, [HARDWARE], key, out, assets=header_sha256(assets))
    return out


def test_firmware_needing_assets_the_device_lacks_is_refused_before_its_payload_then_flashes_after_them(
    tmp_path: Path, device_home: DeviceHome, vendor_key: Ed25519PrivateKey
) -> None:
    assets = asset_bundle(tmp_path, vendor_key, "1.0.0", b"x" * 30_000)
    app = app_bundle(tmp_path, vendor_key, "1.1.0", assets)
    device = MemoryDevice(device_home, [])
    refused = flasher(app, device).flash("memory://")
    device.join()
    assert refused.status == "refused" and refused.exit_code == ExitCode.REFUSED
    assert refused.message.startswith("missing_assets") and refused.bytes_sent == 0
    assert device_home.slots().load().trial is None

    got = flasher(assets, device).flash("memory://")
    device.join()
    assert got.status == "installed", got.message
    assert f"installed assets 1.0.0 as {header_sha256(assets)}" in got.message
    assert AssetStore(device_home.root).problem(header_sha256(assets)) is None
    assert device_home.slots().load().trial is None  # the slots are not touched by assets

    installed = flasher(app, device).flash("memory://")
    device.join()
    assert installed.status == "installed", installed.message
    assert device_home.slots().load().trial == "b"


def test_a_tampered_asset_bundle_is_refused_over_the_link(
    tmp_path: Path, device_home: DeviceHome, vendor_key: Ed25519PrivateKey
) -> None:
    assets = asset_bundle(tmp_path, vendor_key, "1.0.0", b"y" * 30_000)
    data = bytearray(assets.read_bytes())
    data[-10] ^= 0x40
    assets.write_bytes(bytes(data))
    device = MemoryDevice(device_home, [])
    outcome = flasher(assets, device).flash("memory://")
    device.join()
    assert outcome.status == "refused" and outcome.message.startswith("corrupt")
    assert AssetStore(device_home.root).active() is None
