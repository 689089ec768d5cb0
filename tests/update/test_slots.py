"""A/B slots: inactive-slot writes, read-back, atomic switch, boot counting, rollback, downgrade refusal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware.update.bundle import BundleError, Refusal
from firmware.update.floor import FLEET, make_permit
from firmware.update.keys import Keyring
from firmware.update.slots import SlotError, SlotManager
from tests.update.conftest import HARDWARE, MakeBundle


@pytest.fixture
def slots(tmp_path: Path) -> SlotManager:
    return SlotManager(tmp_path / "device")


def seeded(slots: SlotManager, make_bundle: MakeBundle, keyring: Keyring) -> None:
    slots.seed(make_bundle("1.0.0"), keyring, HARDWARE)


def test_new_device_seeds_slot_a_as_good(slots: SlotManager, make_bundle: MakeBundle, keyring: Keyring) -> None:
    seeded(slots, make_bundle, keyring)
    decision = slots.boot()
    assert (decision.slot, decision.version, decision.trial) == ("a", "1.0.0", False)
    assert os.readlink(slots.current) == "slots/a"
    assert (slots.current / "app.py").read_text() == "VERSION = '1.0.0'\n"


def test_install_writes_only_the_inactive_slot(slots: SlotManager, make_bundle: MakeBundle, keyring: Keyring) -> None:
    seeded(slots, make_bundle, keyring)
    before = {p.name: p.read_bytes() for p in slots.slot_dir("a").iterdir()}
    result = slots.install(make_bundle("1.1.0"), keyring, HARDWARE)
    assert result.slot == "b" and result.previous == "1.0.0"
    assert {p.name: p.read_bytes() for p in slots.slot_dir("a").iterdir()} == before
    assert slots.verify_slot("b") is None


def test_trial_slot_kept_after_health_check(slots: SlotManager, make_bundle: MakeBundle, keyring: Keyring) -> None:
    seeded(slots, make_bundle, keyring)
    slots.install(make_bundle("1.1.0", compression="zstd"), keyring, HARDWARE)
    decision = slots.boot()
    assert (decision.slot, decision.trial, decision.attempt) == ("b", True, 1)
    assert slots.mark_good() == "b"
    assert slots.boot().slot == "b" and slots.installed_version() == "1.1.0"
    slots.install(make_bundle("1.2.0"), keyring, HARDWARE)
    assert slots.load().trial == "a"  # the next update goes to the slot that is not running


@pytest.mark.parametrize("max_attempts", [1, 3])
def test_trial_rolls_back_by_itself_after_the_set_number_of_failed_starts(
    slots: SlotManager, make_bundle: MakeBundle, keyring: Keyring, max_attempts: int
) -> None:
    seeded(slots, make_bundle, keyring)
    slots.set_max_attempts(max_attempts)
    slots.install(make_bundle("1.1.0"), keyring, HARDWARE)
    for attempt in range(1, max_attempts + 1):  # each start dies before the health check
        decision = slots.boot()
        assert (decision.slot, decision.attempt) == ("b", attempt)
    decision = slots.boot()  # one start more than allowed: back to the good slot
    assert (decision.slot, decision.version, decision.rolled_back_from) == ("a", "1.0.0", "b")
    assert os.readlink(slots.current) == "slots/a"
    assert slots.load().slots["b"].status == "bad"
    assert slots.boot().rolled_back_from is None


def test_failed_health_check_rolls_back_at_once(slots: SlotManager, make_bundle: MakeBundle, keyring: Keyring) -> None:
    seeded(slots, make_bundle, keyring)
    slots.install(make_bundle("1.1.0"), keyring, HARDWARE)
    slots.boot()
    assert slots.mark_failed("health check: no dial tone") == "b"
    assert slots.boot().slot == "a"


def test_damaged_trial_slot_is_never_started(slots: SlotManager, make_bundle: MakeBundle, keyring: Keyring) -> None:
    seeded(slots, make_bundle, keyring)
    slots.install(make_bundle("1.1.0"), keyring, HARDWARE)
    (slots.slot_dir("b") / "data.bin").write_bytes(b"damaged on disk")
    decision = slots.boot()
    assert decision.slot == "a" and decision.rolled_back_from == "b"


def test_downgrade_refused_unless_explicitly_allowed(
    slots: SlotManager, make_bundle: MakeBundle, keyring: Keyring, vendor_key: Ed25519PrivateKey
) -> None:
    seeded(slots, make_bundle, keyring)
    older = make_bundle("0.9.0")
    with pytest.raises(BundleError) as info:
        slots.install(older, keyring, HARDWARE)
    assert info.value.reason is Refusal.DOWNGRADE
    assert slots.load().slots["b"].status == "empty"
    with pytest.raises(BundleError, match="below the version floor"):  # the seed's 1.0.0 is the floor
        slots.install(older, keyring, HARDWARE, allow_downgrade=True)
    permit = make_permit(vendor_key, FLEET, "0.9.0", floor="1.0.0")
    assert slots.install(older, keyring, HARDWARE, allow_downgrade=True, permit=permit).version == "0.9.0"


def test_refused_bundle_writes_nothing(slots: SlotManager, make_bundle: MakeBundle, keyring: Keyring) -> None:
    seeded(slots, make_bundle, keyring)
    with pytest.raises(BundleError) as info:
        slots.install(make_bundle("1.1.0", hardware=("rpi5-kiosk-v1",)), keyring, HARDWARE)
    assert info.value.reason is Refusal.WRONG_HARDWARE
    assert not slots.slot_dir("b").exists()


def test_second_install_while_on_trial_is_refused(
    slots: SlotManager, make_bundle: MakeBundle, keyring: Keyring
) -> None:
    seeded(slots, make_bundle, keyring)
    slots.install(make_bundle("1.1.0"), keyring, HARDWARE)
    with pytest.raises(SlotError, match="on trial"):
        slots.install(make_bundle("1.2.0"), keyring, HARDWARE)


def test_unprovisioned_root_has_nothing_to_start(slots: SlotManager) -> None:
    with pytest.raises(SlotError, match="no good slot"):
        slots.boot()
