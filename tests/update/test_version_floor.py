"""A rogue or careless downgrade: below the version floor only with a release key's permit for this device."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware.cli import main
from firmware.tech.home import DeviceHome
from firmware.update.bundle import BundleError, Refusal
from firmware.update.floor import FLEET, VersionFloor, make_permit
from firmware.update.keys import Keyring, write_private_key
from firmware.update.slots import SlotManager
from tests.update.conftest import HARDWARE, MakeBundle


def upgraded(tmp_path: Path, make_bundle: MakeBundle, keyring: Keyring) -> SlotManager:
    manager = SlotManager(tmp_path / "slots")
    manager.seed(make_bundle("1.0.0"), keyring, HARDWARE)
    manager.install(make_bundle("1.1.0"), keyring, HARDWARE)
    manager.boot()
    manager.mark_good()
    return manager


def test_marking_good_raises_the_floor_and_allow_downgrade_alone_cannot_pass_it(
    tmp_path: Path, make_bundle: MakeBundle, keyring: Keyring
) -> None:
    manager = upgraded(tmp_path, make_bundle, keyring)
    assert VersionFloor(manager.root).get() == "1.1.0"
    assert (manager.root / "floor.json").stat().st_mode & 0o777 == 0o600
    with pytest.raises(BundleError) as refused:  # before: --allow-downgrade installed any older signed release
        manager.install(make_bundle("1.0.0"), keyring, HARDWARE, allow_downgrade=True, device_id="handset-7")
    assert refused.value.reason is Refusal.DOWNGRADE and "below the version floor" in str(refused.value)
    assert manager.installed_version() == "1.1.0"


@pytest.mark.parametrize(
    ("device", "version", "signer", "why"),
    [
        ("handset-8", "1.0.0", "vendor", "names device handset-8, not handset-7"),
        ("handset-7", "0.9.0", "vendor", "is for version 0.9.0, not 1.0.0"),
        ("handset-7", "1.0.0", "stranger", "not signed by a release key"),
    ],
)
def test_a_permit_for_another_device_version_or_key_is_refused(
    tmp_path: Path,
    make_bundle: MakeBundle,
    keyring: Keyring,
    vendor_key: Ed25519PrivateKey,
    device: str,
    version: str,
    signer: str,
    why: str,
) -> None:
    manager = upgraded(tmp_path, make_bundle, keyring)
    key = vendor_key if signer == "vendor" else Ed25519PrivateKey.generate()
    with pytest.raises(BundleError, match=why):
        manager.install(
            make_bundle("1.0.0"),
            keyring,
            HARDWARE,
            allow_downgrade=True,
            permit=make_permit(key, device, version, floor="1.1.0"),
            device_id="handset-7",
        )


@pytest.mark.parametrize("device", ["handset-7", FLEET])
def test_a_release_keys_permit_for_this_device_or_the_fleet_lets_it_go_down(
    tmp_path: Path, make_bundle: MakeBundle, keyring: Keyring, vendor_key: Ed25519PrivateKey, device: str
) -> None:
    manager = upgraded(tmp_path, make_bundle, keyring)
    manager.install(
        make_bundle("1.0.0"),
        keyring,
        HARDWARE,
        allow_downgrade=True,
        permit=make_permit(vendor_key, device, "1.0.0", floor="1.1.0"),
        device_id="handset-7",
    )
    assert manager.boot().version == "1.0.0"
    manager.mark_good()
    assert VersionFloor(manager.root).get() == "1.1.0"  # the floor never goes down


def test_an_old_permit_is_not_replayed_once_a_newer_release_has_run_well(
    tmp_path: Path, make_bundle: MakeBundle, keyring: Keyring, vendor_key: Ed25519PrivateKey
) -> None:
    """The attack: a fleet permit once issued to leave a bad 1.1.0 is kept, and used again after 1.2.0 shipped,
    to put devices back on 1.0.0 (a release with a known hole). Before, a permit named no floor and worked forever."""
    manager = upgraded(tmp_path, make_bundle, keyring)
    permit = make_permit(vendor_key, FLEET, "1.0.0", floor="1.1.0")
    old = make_bundle("1.0.0")
    manager.install(old, keyring, HARDWARE, allow_downgrade=True, permit=permit, device_id="handset-7")
    manager.boot()
    manager.mark_good()
    manager.install(make_bundle("1.2.0"), keyring, HARDWARE)
    manager.boot()
    manager.mark_good()
    assert VersionFloor(manager.root).get() == "1.2.0"
    with pytest.raises(BundleError, match="lowers a floor of at most 1.1.0; this device has since run 1.2.0 well"):
        manager.install(old, keyring, HARDWARE, allow_downgrade=True, permit=permit, device_id="handset-7")
    assert manager.installed_version() == "1.2.0"
    unsigned_floor = {**permit, "floor": "9.9.9"}  # raising the floor field by hand breaks the signature
    with pytest.raises(BundleError, match="not signed by a release key"):
        manager.install(old, keyring, HARDWARE, allow_downgrade=True, permit=unsigned_floor, device_id="handset-7")


def test_the_cli_makes_a_permit_and_slot_install_honours_it(
    tmp_path: Path, make_bundle: MakeBundle, vendor_key: Ed25519PrivateKey, device_home: DeviceHome
) -> None:
    runner = CliRunner()
    manager = device_home.slots()
    manager.install(make_bundle("1.1.0"), device_home.keyring(), HARDWARE)
    manager.boot()
    manager.mark_good()
    old = make_bundle("1.0.0")
    home = ["--home", str(device_home.root)]
    refused = runner.invoke(main, ["slot", "install", str(old), "--allow-downgrade", *home])
    assert refused.exit_code == 1 and "below the version floor" in refused.output
    key_file = tmp_path / "release.key"
    write_private_key(key_file, vendor_key)
    permit = tmp_path / "permit.json"
    made = runner.invoke(
        main,
        [
            *("bundle", "permit", "--key", str(key_file), "--device", "handset-7"),
            *("--version", "1.0.0", "--floor", "1.1.0", "-o", str(permit)),
        ],
    )
    assert made.exit_code == 0, made.output
    assert json.loads(permit.read_text())["device"] == "handset-7"
    ok = runner.invoke(main, ["slot", "install", str(old), "--allow-downgrade", "--permit", str(permit), *home])
    assert ok.exit_code == 0, ok.output
    both = runner.invoke(
        main, ["bundle", "permit", "--key", str(key_file), "--version", "1.0.0", "--floor", "1.1.0", "-o", str(permit)]
    )
    assert both.exit_code == 2 and "exactly one of --device ID or --fleet" in both.output


def test_an_install_and_a_permit_from_the_cli_write_only_private_files(
    tmp_path: Path, make_bundle: MakeBundle, vendor_key: Ed25519PrivateKey, device_home: DeviceHome
) -> None:
    """Under a shell's usual umask (files 0644), what `slot install` and `bundle permit` write is private."""

    def files() -> dict[Path, int]:
        return {p: p.stat().st_mtime_ns for p in device_home.root.rglob("*") if p.is_file() and not p.is_symlink()}

    before = files()  # the bench's own files (its helper is no ringfence command) are not the commands' to answer for
    previous = os.umask(0o022)
    try:
        runner = CliRunner()
        home = ["--home", str(device_home.root)]
        installed = runner.invoke(main, ["slot", "install", str(make_bundle("1.1.0")), *home])
        assert installed.exit_code == 0, installed.output
        key_file = tmp_path / "release.key"
        write_private_key(key_file, vendor_key)
        permit = tmp_path / "permit.json"
        args = ["--key", str(key_file), "--fleet", "--version", "1.0.0", "--floor", "1.1.0", "-o", str(permit)]
        made = runner.invoke(main, ["bundle", "permit", *args])
        assert made.exit_code == 0, made.output
    finally:
        os.umask(previous)
    written = [permit, *(p for p, mtime in files().items() if before.get(p) != mtime)]
    assert any("slots/b" in str(p) for p in written)
    modes = {str(p): stat.S_IMODE(p.stat().st_mode) for p in written}
    assert {m & 0o077 for m in modes.values()} == {0}, {p: oct(m) for p, m in modes.items() if m & 0o077}
