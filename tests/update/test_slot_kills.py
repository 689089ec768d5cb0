"""Killing the installer at every step (and at random moments): the device always starts a good slot.

Each run forks a child that installs, starts and marks good a new bundle, and SIGKILLs itself at one chosen
checkpoint (a real kill: no cleanup, no finally blocks). The parent then boots the device as the service would
and checks that the slot it starts reads back exactly as its signed manifest says and is either the old good
firmware or the fully verified new one; then that a new install still succeeds.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firmware.update.keys import Keyring
from firmware.update.slots import SlotManager
from tests.update.conftest import HARDWARE, MakeBundle, killed_at_checkpoint

CHUNK = 1024


class Killed(Exception):
    pass


def lifecycle(manager: SlotManager, bundle: Path, keyring: Keyring) -> None:
    """What a device does with a new bundle: install, start it, health check passes, mark good."""
    manager.install(bundle, keyring, HARDWARE)
    manager.boot()
    manager.mark_good()


def checkpoints(root: Path, bundle: Path, keyring: Keyring) -> list[str]:
    """The names of the checkpoints an uninterrupted lifecycle passes, in order."""
    names: list[str] = []
    scratch = root.with_name(root.name + "-count")
    shutil.copytree(root, scratch, symlinks=True)
    lifecycle(SlotManager(scratch, checkpoint=names.append, chunk=CHUNK), bundle, keyring)
    shutil.rmtree(scratch)
    return names


def every_step_and_every_nth_chunk(names: list[str], nth: int) -> list[int]:
    """Kill points (1-based): every checkpoint but the middle of a run of chunks of one file, of which every
    `nth` is kept, with the run's first and last. A kill between chunk k and k+1 of a file is the same case for
    every k: a large file needs its chunks only often enough to reach past the compressor's blocks."""
    keep = []
    for i, name in enumerate(names):
        run_edge = i == 0 or i == len(names) - 1 or names[i - 1] != name or names[i + 1] != name
        if not name.startswith("chunk:") or run_edge or i % nth == 0:
            keep.append(i + 1)
    return keep


def run_killed_at(root: Path, bundle: Path, keyring: Keyring, kill_at: int) -> None:
    killed_at_checkpoint(
        kill_at, lambda checkpoint: lifecycle(SlotManager(root, checkpoint=checkpoint, chunk=CHUNK), bundle, keyring)
    )


def assert_starts_good_slot(root: Path, old: str, new: str) -> None:
    manager = SlotManager(root)
    decision = manager.boot()
    assert decision.version in (old, new)
    assert manager.verify_slot(decision.slot) is None, decision
    assert os.readlink(manager.current) == f"slots/{decision.slot}"
    if decision.version == old:
        assert manager.load().good == decision.slot


def seed(tmp_path: Path, make_bundle: MakeBundle, keyring: Keyring) -> Path:
    root = tmp_path / "seeded"
    SlotManager(root).seed(make_bundle("1.0.0"), keyring, HARDWARE)
    return root


def kill_at_every_checkpoint(
    tmp_path: Path, make_bundle: MakeBundle, keyring: Keyring, compression: str, size: int, nth_chunk: int = 1
) -> int:
    seeded = seed(tmp_path, make_bundle, keyring)
    new = make_bundle("1.1.0", compression=compression, size=size)
    points = every_step_and_every_nth_chunk(checkpoints(seeded, new, keyring), nth_chunk)
    for kill_at in points:
        root = tmp_path / f"kill-{kill_at}"
        shutil.copytree(seeded, root, symlinks=True)
        run_killed_at(root, new, keyring, kill_at)
        assert_starts_good_slot(root, "1.0.0", "1.1.0")
        manager = SlotManager(root)
        if manager.load().trial is None and manager.installed_version() == "1.0.0":
            manager.install(new, keyring, HARDWARE)  # the interrupted update can simply be done again
            assert manager.boot().version == "1.1.0"
        shutil.rmtree(root)
    return len(points)


@pytest.mark.parametrize("compression", ["none", "zstd"])
def test_kill_at_every_checkpoint_leaves_a_bootable_good_slot(
    tmp_path: Path, make_bundle: MakeBundle, keyring: Keyring, compression: str
) -> None:
    assert kill_at_every_checkpoint(tmp_path, make_bundle, keyring, compression, 40_000) > 45


@pytest.mark.slow
@pytest.mark.parametrize("compression", ["none", "zstd"])
def test_kill_at_every_checkpoint_of_a_larger_bundle(
    tmp_path: Path, make_bundle: MakeBundle, keyring: Keyring, compression: str
) -> None:
    # 300 KB spans several zstd blocks; every step is killed, and every 10th of its 300 chunks.
    assert kill_at_every_checkpoint(tmp_path, make_bundle, keyring, compression, 300_000, nth_chunk=10) > 30


@pytest.mark.slow
def test_installer_process_killed_at_random_moments(tmp_path: Path, make_bundle: MakeBundle, keyring: Keyring) -> None:
    """The real command in its own process, SIGKILLed from outside after a random delay, 40 times (every step
    is killed in turn by the tests above: these add kills between the steps, from outside)."""
    rng = random.Random(5)
    seeded = seed(tmp_path, make_bundle, keyring)
    keyring.save(seeded / "etc" / "keyring.json")
    new = make_bundle("1.1.0", size=2_000_000)
    phases = set()
    for run in range(40):
        root = tmp_path / f"run-{run}"
        shutil.copytree(seeded, root, symlinks=True)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "firmware",
                "slot",
                "install",
                str(new),
                "--home",
                str(root),
                "--hardware",
                HARDWARE,
                "--chunk",
                "4096",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if run % 2:
            # Half the runs die while the new slot is being written, whatever the machine's load: wait for the
            # write to begin, then kill at a random moment of it.
            deadline = time.monotonic() + 60
            while (
                proc.poll() is None
                and time.monotonic() < deadline
                and SlotManager(root).load().slots["b"].status == "empty"
            ):
                time.sleep(0.002)
            time.sleep(rng.uniform(0.0, 0.05))
        else:
            time.sleep(rng.uniform(0.0, 1.6))  # anywhere from start-up on
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        phases.add(SlotManager(root).load().slots["b"].status)
        assert_starts_good_slot(root, "1.0.0", "1.1.0")
        shutil.rmtree(root)
    assert {"empty", "writing"} <= phases, phases  # killed before and during the write, at least
