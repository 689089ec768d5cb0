"""Signed bundles: a good one verifies; each kind of damage is refused with a message that names it."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware.update import bundle, bundle_writer
from firmware.update.bundle import BundleError, Refusal
from firmware.update.keys import Keyring, KeyringError, make_rotation
from tests.update.conftest import HARDWARE, MakeBundle


def refusal(path: Path, keyring: Keyring, **kw: object) -> BundleError:
    with pytest.raises(BundleError) as info:
        bundle.verify(path, keyring, **kw)  # type: ignore[arg-type]
    return info.value


@pytest.mark.parametrize("compression", ["none", "zstd"])
def test_good_bundle_verifies_and_files_read_back(make_bundle: MakeBundle, keyring: Keyring, compression: str) -> None:
    path = make_bundle("1.2.0", compression=compression)
    header = bundle.verify(path, keyring, hardware=HARDWARE, installed="1.1.9")
    assert header.manifest.version == "1.2.0"
    assert header.total_size == path.stat().st_size
    app = next(f for f in header.manifest.files if f.name == "app.py")
    with bundle.open_stored(path, header, app) as stream:
        assert stream.read() == b"VERSION = '1.2.0'\n"


def test_signature_by_an_untrusted_key_is_refused(make_bundle: MakeBundle, keyring: Keyring) -> None:
    path = make_bundle(key=Ed25519PrivateKey.generate())
    err = refusal(path, keyring)
    assert err.reason is Refusal.UNKNOWN_KEY and "does not trust" in str(err)


def test_altered_manifest_is_a_bad_signature(make_bundle: MakeBundle, keyring: Keyring) -> None:
    path = make_bundle("1.0.0")
    data = bytearray(path.read_bytes())
    at = data.index(b'"version":"1.0.0"') + len('"version":"')
    data[at] = ord("9")  # 9.0.0: same length, a signed field changed
    path.write_bytes(bytes(data))
    err = refusal(path, keyring)
    assert err.reason is Refusal.BAD_SIGNATURE and "bad signature" in str(err)


def test_flipped_signature_byte_is_a_bad_signature(make_bundle: MakeBundle, keyring: Keyring) -> None:
    path = make_bundle()
    header = bundle.verify(path, keyring)
    data = bytearray(path.read_bytes())
    data[header.length - 1] ^= 0x01
    path.write_bytes(bytes(data))
    assert refusal(path, keyring).reason is Refusal.BAD_SIGNATURE


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_flipped_payload_byte_is_refused_as_corrupt(make_bundle: MakeBundle, keyring: Keyring, where: str) -> None:
    path = make_bundle()
    header = bundle.verify(path, keyring)
    data = bytearray(path.read_bytes())
    at = {"first": header.length, "middle": (header.length + len(data)) // 2, "last": len(data) - 1}[where]
    data[at] ^= 0x80
    path.write_bytes(bytes(data))
    err = refusal(path, keyring)
    assert err.reason is Refusal.CORRUPT and "flipped byte" in str(err)


def test_every_truncation_is_refused_as_truncated(make_bundle: MakeBundle, keyring: Keyring) -> None:
    path = make_bundle(size=200)
    full = path.read_bytes()
    for cut in range(len(full)):
        path.write_bytes(full[:cut])
        err = refusal(path, keyring)
        assert err.reason is Refusal.TRUNCATED and "truncated" in str(err), cut


def test_one_byte_short_and_one_byte_long(make_bundle: MakeBundle, keyring: Keyring) -> None:
    path = make_bundle()
    full = path.read_bytes()
    path.write_bytes(full[:-1])
    assert "1 missing" in str(refusal(path, keyring))
    path.write_bytes(full + b"\0")
    assert refusal(path, keyring).reason is Refusal.TOO_LONG
    path.write_bytes(full)
    bundle.verify(path, keyring)


def test_wrong_hardware_is_refused_by_name(make_bundle: MakeBundle, keyring: Keyring) -> None:
    path = make_bundle(hardware=("rpi5-kiosk-v1",))
    err = refusal(path, keyring, hardware=HARDWARE)
    assert err.reason is Refusal.WRONG_HARDWARE
    assert "rpi5-kiosk-v1" in str(err) and HARDWARE in str(err)


def test_lower_version_is_refused_unless_allowed(make_bundle: MakeBundle, keyring: Keyring) -> None:
    path = make_bundle("1.4.0")
    err = refusal(path, keyring, installed="1.4.1")
    assert err.reason is Refusal.DOWNGRADE and "older than installed 1.4.1" in str(err)
    bundle.verify(path, keyring, installed="1.4.0")  # same version: a reinstall, not a downgrade
    bundle.verify(path, keyring, installed="1.4.1", allow_downgrade=True)


def test_not_a_bundle(tmp_path: Path, keyring: Keyring) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not firmware\n")
    err = refusal(path, keyring)
    assert err.reason is Refusal.NOT_A_BUNDLE and "magic" in str(err)


def test_wheels_give_the_locked_package_list(tmp_path: Path, vendor_key: Ed25519PrivateKey) -> None:
    wheels = [tmp_path / "ringfence-1.3.0-py3-none-any.whl", tmp_path / "numpy-2.1.0-cp311-cp311-linux_aarch64.whl"]
    for wheel in wheels:
        wheel.write_bytes(b"PK fake wheel")
    header = bundle_writer.build(wheels, "1.3.0", [HARDWARE], vendor_key, tmp_path / "b.rfb")
    assert header.manifest.packages == {"ringfence": "1.3.0", "numpy": "2.1.0"}


def test_rotation_lets_a_device_trust_the_new_key_and_retire_the_old(
    make_bundle: MakeBundle, keyring: Keyring, vendor_key: Ed25519PrivateKey
) -> None:
    new_key = Ed25519PrivateKey.generate()
    new_bundle = make_bundle("2.0.0", key=new_key)
    assert refusal(new_bundle, keyring).reason is Refusal.UNKNOWN_KEY
    keyring.apply_rotation(make_rotation(vendor_key, new_key.public_key(), retire_old=True))
    bundle.verify(new_bundle, keyring)
    old_bundle = make_bundle("2.1.0", key=vendor_key)
    assert refusal(old_bundle, keyring).reason is Refusal.UNKNOWN_KEY


def test_rotation_signed_by_an_untrusted_key_is_refused(keyring: Keyring) -> None:
    stranger = Ed25519PrivateKey.generate()
    with pytest.raises(KeyringError, match="does not trust"):
        keyring.apply_rotation(make_rotation(stranger, Ed25519PrivateKey.generate().public_key(), False))


def test_rotation_with_a_forged_signature_is_refused(keyring: Keyring, vendor_key: Ed25519PrivateKey) -> None:
    record = make_rotation(vendor_key, Ed25519PrivateKey.generate().public_key(), False)
    record["retire_old"] = True  # changed after signing
    with pytest.raises(KeyringError, match="not valid"):
        keyring.apply_rotation(record)


def test_keyring_round_trips_through_its_file(tmp_path: Path, keyring: Keyring) -> None:
    keyring.save(tmp_path / "keyring.json")
    loaded = Keyring.load(tmp_path / "keyring.json")
    assert set(loaded.keys) == set(keyring.keys)
