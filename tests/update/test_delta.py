"""Delta bundles: built from the last release, flashed to a device that runs it, refused by any other."""

from __future__ import annotations

import functools
import hashlib
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware.cli import main
from firmware.sync.schema import BlobChunk, BlobEnd
from firmware.tech.home import DeviceHome
from firmware.update import bundle, bundle_writer
from firmware.update.delta import PATCH_NAME, apply_delta, build_delta, slot_image
from firmware.update.flasher import Flasher
from firmware.update.keys import Keyring
from firmware.update.receiver import FlashReceiver
from firmware.update.slots import SLOT_MANIFEST, SlotManager
from hal.link import TcpListener
from tests.update.conftest import ACCESS_KEY, HARDWARE, MakeBundle, killed_at_checkpoint, receiver_on

BIG = random.Random(5).randbytes(400_000)


def release(make_bundle: MakeBundle, version: str, compression: str = "none") -> Path:
    """A release whose large file does not change and whose code does."""
    return make_bundle(
        version, compression=compression, files={"app.py": f"VERSION = {version!r}\n".encode() * 50, "prompts.bin": BIG}
    )


@pytest.fixture
def old(make_bundle: MakeBundle) -> Path:
    """Release 1.0.1, built once (a rebuild is another bundle: its header records when it was made)."""
    return release(make_bundle, "1.0.1")


@pytest.fixture
def device(device_home: DeviceHome, old: Path, keyring: Keyring) -> DeviceHome:
    """A device whose good slot holds release 1.0.1."""
    manager = SlotManager(device_home.root)
    manager.install(old, keyring, HARDWARE)
    manager.boot()
    manager.mark_good()
    return device_home


@pytest.fixture
def tcp_device(device: DeviceHome) -> Iterator[str]:
    with receiver_on(TcpListener("tcp://127.0.0.1:0"), device) as url:
        yield url


def test_a_delta_carries_only_what_changed_and_installs_verified(
    tcp_device: str,
    device: DeviceHome,
    make_bundle: MakeBundle,
    vendor_key: Ed25519PrivateKey,
    tmp_path: Path,
    old: Path,
) -> None:
    new = release(make_bundle, "1.1.0")
    delta = tmp_path / "1.1.0.delta.rfb"
    build_delta(old, new, vendor_key, delta)
    assert delta.stat().st_size < new.stat().st_size / 20
    outcome = Flasher(new, ACCESS_KEY, delta=delta, retries=0).flash(tcp_device)
    assert outcome.status == "installed", outcome.message
    assert outcome.bytes_sent == delta.stat().st_size and "delta of" in outcome.message
    manager = device.slots()
    state = manager.load()
    assert state.slots[state.trial].version == "1.1.0"  # type: ignore[index]
    assert manager.verify_slot(state.trial) is None  # type: ignore[arg-type]
    assert not list((device.data_dir / "incoming").iterdir())
    again = Flasher(new, ACCESS_KEY, delta=delta, retries=0).flash(tcp_device)  # the same command once more
    assert again.status == "installed" and again.bytes_sent == 0 and "(already)" in again.message


def test_a_delta_from_a_compressed_release_works_too(
    device_home: DeviceHome, make_bundle: MakeBundle, keyring: Keyring, vendor_key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    old, new = release(make_bundle, "1.0.1", "zstd"), release(make_bundle, "1.1.0")
    manager = SlotManager(device_home.root)
    manager.install(old, keyring, HARDWARE)
    manager.boot()
    manager.mark_good()
    good = manager.load().good
    assert good is not None
    header_bytes = (manager.slot_dir(good) / SLOT_MANIFEST).read_bytes()
    base = slot_image(header_bytes, bundle.parse_header(header_bytes), manager.slot_dir(good))
    delta = tmp_path / "d.rfb"
    header = build_delta(old, new, vendor_key, delta)
    apply_delta(delta, header, base, tmp_path / "out.rfb")
    assert (tmp_path / "out.rfb").read_bytes() == new.read_bytes()


def test_wrong_base_is_refused_before_a_byte_and_the_full_bundle_follows(
    tcp_device: str, device: DeviceHome, make_bundle: MakeBundle, vendor_key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    other_base, new = release(make_bundle, "1.0.5"), release(make_bundle, "1.1.0")
    delta = tmp_path / "wrong.delta.rfb"
    build_delta(other_base, new, vendor_key, delta)
    alone = Flasher(new, ACCESS_KEY, retries=0)
    alone.full = alone._payload(delta)  # the delta offered on its own: the device's answer, unmasked
    refused = alone.flash(tcp_device)
    assert refused.status == "refused" and refused.bytes_sent == 0
    assert refused.message.startswith("wrong_base: wrong base: this delta patches 1.0.5, this device runs 1.0.1")
    assert device.slots().load().trial is None
    incoming = device.data_dir / "incoming"
    assert not incoming.exists() or not any(incoming.iterdir())  # nothing of the delta was written
    outcome = Flasher(new, ACCESS_KEY, delta=delta, retries=0).flash(tcp_device)
    assert outcome.status == "installed"
    assert outcome.bytes_sent == new.stat().st_size and "the delta was refused: wrong_base" in outcome.message


def _mismatched_delta(old: Path, new: Path, key: Ed25519PrivateKey, out: Path, tmp_path: Path) -> None:
    """A validly signed delta whose patch makes something other than the target its manifest names."""
    good = tmp_path / "good.rfb"
    header = build_delta(old, new, key, good)
    info = header.manifest.delta
    assert info is not None
    patch = tmp_path / PATCH_NAME
    with bundle.open_stored(good, header, header.manifest.files[0]) as src:
        patch.write_bytes(src.read())
    lie = info.model_copy(update={"target_sha256": hashlib.sha256(b"another bundle").hexdigest()})
    bundle_writer.build([patch], header.manifest.version, [HARDWARE], key, out, delta=lie)


def test_a_delta_whose_result_is_not_its_signed_hash_leaves_the_slots_untouched(
    device: DeviceHome, make_bundle: MakeBundle, vendor_key: Ed25519PrivateKey, tmp_path: Path, old: Path
) -> None:
    new = release(make_bundle, "1.1.0")
    bad = tmp_path / "bad.delta.rfb"
    _mismatched_delta(old, new, vendor_key, bad, tmp_path)
    before = device.slots().load()
    slots_before = sorted(p.name for p in (device.root / "slots").iterdir())
    store = device.store()
    receiver = FlashReceiver(device, store)
    flasher = Flasher(bad, ACCESS_KEY)
    offer = flasher.offer
    assert receiver.handle(offer).status == "partial"  # type: ignore[union-attr]
    data = bad.read_bytes()
    receiver.handle(BlobChunk(id=offer.id, offset=0, data=data))
    state = receiver.handle(BlobEnd(id=offer.id))
    store.close()
    assert state is not None and state.status == "refused"
    assert state.reason.startswith("delta_mismatch:") and "nothing was installed" in state.reason
    assert receiver.session.results[-1]["result"] == "delta_mismatch"
    assert device.slots().load() == before
    assert sorted(p.name for p in (device.root / "slots").iterdir()) == slots_before


def test_a_truncated_delta_resumes_where_it_stopped(
    device: DeviceHome, make_bundle: MakeBundle, vendor_key: Ed25519PrivateKey, tmp_path: Path, old: Path
) -> None:
    new = make_bundle("1.1.0", files={"app.py": random.Random(9).randbytes(50_000), "prompts.bin": BIG})
    delta = tmp_path / "d.rfb"
    build_delta(old, new, vendor_key, delta)
    data = delta.read_bytes()
    offer = Flasher(delta, ACCESS_KEY).offer
    store = device.store()
    first = FlashReceiver(device, store)
    assert first.handle(offer).have == 0  # type: ignore[union-attr]
    half = len(data) // 2
    first.handle(BlobChunk(id=offer.id, offset=0, data=data[:half]))
    second = FlashReceiver(device, store)  # the link dropped; a new session
    state = second.handle(offer)
    assert state is not None and state.status == "partial" and state.have == half
    second.handle(BlobChunk(id=offer.id, offset=half, data=data[half:]))
    final = second.handle(BlobEnd(id=offer.id))
    store.close()
    assert final is not None and final.status == "complete", final
    assert device.slots().load().slots["a" if device.slots().load().trial == "a" else "b"].version == "1.1.0"


def _install_delta(root: Path, delta: Path, keyring: Keyring, checkpoint: object) -> None:
    """What the receiver does with a received delta, on a slot manager with a checkpoint."""
    manager = SlotManager(root, checkpoint=checkpoint)  # type: ignore[arg-type]
    good = manager.load().good
    assert good is not None
    header_bytes = (manager.slot_dir(good) / SLOT_MANIFEST).read_bytes()
    header = bundle.verify(delta, keyring, HARDWARE)
    base = slot_image(header_bytes, bundle.parse_header(header_bytes), manager.slot_dir(good))
    target = delta.with_name("target.rfb")
    apply_delta(delta, header, base, target)
    manager.checkpoint("patched")
    manager.install(target, keyring, HARDWARE)
    manager.boot()
    manager.mark_good()


@pytest.mark.slow
def test_a_delta_install_killed_at_every_step_starts_a_good_slot_and_installs_again(
    device: DeviceHome,
    make_bundle: MakeBundle,
    keyring: Keyring,
    vendor_key: Ed25519PrivateKey,
    tmp_path: Path,
    old: Path,
) -> None:
    import shutil

    new = release(make_bundle, "1.1.0")
    delta = tmp_path / "d.rfb"
    build_delta(old, new, vendor_key, delta)
    pristine = tmp_path / "pristine"
    shutil.copytree(device.root, pristine, symlinks=True)
    names: list[str] = []
    _install_delta(device.root, delta, keyring, names.append)
    assert "patched" in names
    for kill_at in range(1, len(names) + 1):
        root = tmp_path / f"kill-{kill_at}"
        shutil.copytree(pristine, root, symlinks=True)
        killed_at_checkpoint(kill_at, functools.partial(_install_delta, root, delta, keyring))
        manager = SlotManager(root)
        decision = manager.boot()
        assert decision.version in ("1.0.1", "1.1.0"), names[kill_at - 1]
        assert manager.verify_slot(decision.slot) is None, names[kill_at - 1]
        if manager.load().trial is not None:
            manager.mark_good()
        if manager.installed_version() == "1.0.1":
            _install_delta(root, delta, keyring, lambda _: None)
        assert SlotManager(root).installed_version() == "1.1.0", names[kill_at - 1]


def test_bundle_build_delta_from_info_and_growth_warning(
    tmp_path: Path, make_bundle: MakeBundle, vendor_key: Ed25519PrivateKey
) -> None:
    from cryptography.hazmat.primitives import serialization

    key_file = tmp_path / "vendor.key"
    key_file.write_bytes(
        vendor_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    old = release(make_bundle, "1.0.1")
    src = tmp_path / "new"
    src.mkdir()
    (src / "app.py").write_bytes(b"VERSION = '1.1.0'\n" * 50)
    (src / "prompts.bin").write_bytes(BIG)
    (src / "more.wav").write_bytes(random.Random(3).randbytes(200_000))
    out = tmp_path / "ringfence-1.1.0.rfb"
    result = CliRunner().invoke(
        main,
        [
            "bundle",
            "build",
            str(src / "app.py"),
            str(src / "prompts.bin"),
            str(src / "more.wav"),
            "-o",
            str(out),
            "--key",
            str(key_file),
            "--hardware",
            HARDWARE,
            "--version",
            "1.1.0",
            "--delta-from",
            str(old),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "warning: bundle 1.1.0 is 1.50x the size of 1.0.1" in result.stderr
    assert "assets 400900 -> 600900" in result.stderr
    assert "delta 1.0.1 -> 1.1.0" in result.stdout
    info = CliRunner().invoke(main, ["bundle", "info", str(out.with_suffix(".delta.rfb"))])
    assert info.exit_code == 0 and "delta       from 1.0.1" in info.stdout
    full = CliRunner().invoke(main, ["bundle", "info", str(out)])
    assert "assets" in full.stdout and "600900 bytes in the bundle" in full.stdout


def test_bundle_info_splits_the_application_wheel_into_code_and_assets(
    tmp_path: Path, vendor_key: Ed25519PrivateKey
) -> None:
    import zipfile

    wheel = tmp_path / "ringfence-1.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("firmware/app.py", b"x = 1\n" * 1000)
        zf.writestr("firmware/prompts/audio/en/hello.wav", random.Random(1).randbytes(30_000))
        zf.writestr("ringfence-1.0.0.dist-info/METADATA", b"Name: ringfence\n")
    dep = tmp_path / "click-8.1.7-py3-none-any.whl"
    with zipfile.ZipFile(dep, "w") as zf:
        zf.writestr("click/__init__.py", b"pass\n")
    out = tmp_path / "b.rfb"
    bundle_writer.build([wheel, dep], "1.0.0", [HARDWARE], vendor_key, out)
    result = CliRunner().invoke(main, ["bundle", "info", str(out), "--json"])
    import json

    kinds = json.loads(result.stdout)["by_kind"]
    assert kinds["dependencies"] == dep.stat().st_size
    assert 30_000 <= kinds["assets"] < 31_000 and 6_000 <= kinds["code"] < 8_000
    assert kinds["code"] + kinds["assets"] == wheel.stat().st_size


def test_flash_command_sends_the_delta_and_says_so(
    tcp_device: str,
    device: DeviceHome,
    make_bundle: MakeBundle,
    vendor_key: Ed25519PrivateKey,
    old: Path,
    tmp_path: Path,
) -> None:
    new = release(make_bundle, "1.1.0")
    delta = tmp_path / "1.1.0.delta.rfb"
    build_delta(old, new, vendor_key, delta)
    key_file = tmp_path / "access.key"
    key_file.write_text(ACCESS_KEY.hex())
    result = CliRunner().invoke(
        main,
        ["flash", str(new), "--delta", str(delta), "--link", tcp_device, "--plain-tcp", "--access-key", str(key_file)],
    )
    assert result.exit_code == 0, result.output
    assert "installed 1.1.0" in result.stdout and f"delta of {delta.stat().st_size} bytes" in result.stdout
    missing = CliRunner().invoke(
        main,
        [
            "flash",
            str(new),
            "--delta",
            str(tmp_path / "nope.rfb"),
            "--link",
            tcp_device,
            "--plain-tcp",
            "--access-key",
            str(key_file),
        ],
    )
    assert missing.exit_code == 2 and "nope.rfb: no such file" in missing.stderr
