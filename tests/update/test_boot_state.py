"""Boot state written twice: a damaged or missing boot.json never stops a device whose slots are intact."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from firmware.update.keys import Keyring
from firmware.update.slots import SlotError, SlotManager
from tests.paths import ROOT
from tests.update.conftest import HARDWARE, MakeBundle

DAMAGE = {
    "garbage": b"\x00\xff\x13 not json",
    "truncated": b'{"good": "a", "trial": "b", "atte',
    "wrong shape": b'{"good": "c"}',
    "empty": b"",
}


@pytest.fixture
def device(tmp_path: Path, make_bundle: MakeBundle, keyring: Keyring) -> SlotManager:
    """Slot a good at 1.0.0, slot b on trial at 1.1.0 with one start counted."""
    manager = SlotManager(tmp_path / "device")
    manager.seed(make_bundle("1.0.0"), keyring, HARDWARE)
    manager.install(make_bundle("1.1.0"), keyring, HARDWARE)
    manager.boot()
    return manager


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_boot_state_is_read_from_its_copy(device: SlotManager, damage: str) -> None:
    before = device.load()
    device.state_path.write_bytes(DAMAGE[damage])
    decision = SlotManager(device.root).boot()
    assert (decision.slot, decision.trial, decision.attempt) == ("b", True, 2)  # the count goes on
    fresh = SlotManager(device.root)
    state = fresh.load()
    assert fresh.recovery is None  # boot wrote boot.json whole again
    assert (state.good, state.trial, state.attempts) == (before.good, before.trial, before.attempts + 1)


def test_a_missing_boot_state_is_read_from_its_copy(device: SlotManager) -> None:
    device.state_path.unlink()
    manager = SlotManager(device.root)
    assert manager.boot().slot == "b"
    assert device.state_path.exists()


def test_the_recovery_is_said_in_one_line_naming_the_file(device: SlotManager) -> None:
    device.state_path.write_bytes(DAMAGE["garbage"])
    manager = SlotManager(device.root)
    manager.boot()
    assert manager.recovery is not None and "\n" not in manager.recovery
    assert str(device.state_path) in manager.recovery and "using its copy" in manager.recovery


def test_both_damaged_are_rebuilt_from_intact_slots_with_the_linked_one_on_trial(device: SlotManager) -> None:
    device.state_path.write_bytes(DAMAGE["garbage"])
    device.copy_path.write_bytes(DAMAGE["truncated"])
    manager = SlotManager(device.root)
    decision = manager.boot()
    assert (decision.slot, decision.version, decision.trial) == ("b", "1.1.0", True)
    assert manager.recovery is not None and "rebuilt from the slots" in manager.recovery
    state = manager.load()
    assert (state.good, state.trial) == ("a", "b")  # if b never gets healthy, the device goes back to a
    for _ in range(state.max_attempts):
        manager.boot()
    assert manager.boot().slot == "a"


def test_both_damaged_and_one_slot_tampered_starts_the_intact_slot(device: SlotManager) -> None:
    device.state_path.write_bytes(DAMAGE["garbage"])
    device.copy_path.unlink()
    (device.slot_dir("b") / "app.py").write_text("VERSION = 'evil'\n")
    decision = SlotManager(device.root).boot()
    assert (decision.slot, decision.trial) == ("a", False)
    assert os.readlink(device.current) == "slots/a"


def test_both_damaged_and_no_slot_intact_is_one_clear_refusal(device: SlotManager) -> None:
    device.state_path.write_bytes(DAMAGE["garbage"])
    device.copy_path.write_bytes(DAMAGE["empty"])
    for slot in ("a", "b"):
        (device.slot_dir(slot) / "app.py").write_text("damaged\n")
    with pytest.raises(SlotError, match="no slot is intact: reinstall the firmware"):
        SlotManager(device.root).boot()


def test_the_service_stops_with_one_line_and_the_status_systemd_does_not_restart(device: SlotManager) -> None:
    """The unit's RestartPreventExitStatus=2: a device with nothing to start waits for a technician instead of
    restarting every two seconds forever."""
    device.state_path.write_bytes(DAMAGE["garbage"])
    device.copy_path.write_bytes(DAMAGE["garbage"])
    for slot in ("a", "b"):
        (device.slot_dir(slot) / "app.py").unlink()
    done = subprocess.run(
        [sys.executable, "-m", "firmware", "slot", "run", "--home", str(device.root), "--", "true"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no slot is intact" in lines[0] and "Traceback" not in done.stderr
    unit = (ROOT / "deploy/ringfence.service").read_text()
    assert "RestartPreventExitStatus=2" in unit


def test_a_new_device_without_any_boot_state_is_not_an_error(tmp_path: Path) -> None:
    manager = SlotManager(tmp_path / "new")
    assert manager.load().good is None and manager.recovery is None
