"""A kill during a key rotation, at every step from read-back to the link: the device trusts the right key."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware.update.keys import Keyring, key_id, make_rotation
from firmware.update.slots import SlotManager
from tests.update.conftest import HARDWARE, MakeBundle


def install_killed_at(root: Path, keyring_path: Path, bundle: Path, point: str) -> None:
    """Install in a child that SIGKILLs itself at `point`, then (as the callers did) save the keyring."""
    pid = os.fork()
    if pid == 0:

        def checkpoint(name: str) -> None:
            if name == point:
                os.kill(os.getpid(), signal.SIGKILL)

        try:
            keyring = Keyring.load(keyring_path)
            SlotManager(root, checkpoint=checkpoint).install(bundle, keyring, HARDWARE, keyring_path=keyring_path)
            keyring.save(keyring_path)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status), f"not killed at {point}"


def test_a_kill_between_activation_and_the_keyring_leaves_the_new_key_trusted(
    tmp_path: Path, make_bundle: MakeBundle, vendor_key: Ed25519PrivateKey, keyring: Keyring
) -> None:
    new_key = Ed25519PrivateKey.generate()
    rotation = make_rotation(vendor_key, new_key.public_key(), retire_old=True)
    rotating = make_bundle("1.1.0", rotations=[rotation])
    next_release = make_bundle("1.2.0", key=new_key)
    seeded = tmp_path / "seeded"
    keyring.save(seeded / "keyring.json")
    SlotManager(seeded / "slots").seed(make_bundle("1.0.0"), keyring, HARDWARE)
    for point in ("read-back", "keyring-saved", "activated", "keyring-retired", "linked"):
        root = tmp_path / point
        shutil.copytree(seeded, root, symlinks=True)
        install_killed_at(root / "slots", root / "keyring.json", rotating, point)
        manager = SlotManager(root / "slots")
        decision = manager.boot()
        trusted = Keyring.load(root / "keyring.json")
        if decision.version == "1.1.0":  # the rotating firmware runs: it must trust the key it rotated to
            assert key_id(new_key.public_key()) in trusted.keys, point
            if point in ("keyring-retired", "linked"):
                assert key_id(vendor_key.public_key()) not in trusted.keys, point
            manager.mark_good()
            manager.install(next_release, trusted, HARDWARE)  # the next release, signed by the new key, installs
            assert key_id(vendor_key.public_key()) not in trusted.keys, point  # retired by now in every case
        else:  # killed before the switch: the old firmware runs, and the same bundle installs again
            assert decision.version == "1.0.0" and point in ("read-back", "keyring-saved")
            manager.install(rotating, trusted, HARDWARE, keyring_path=root / "keyring.json")
            assert manager.boot().version == "1.1.0"
    assert (tmp_path / "activated" / "keyring.json").stat().st_mode & 0o777 == 0o600
