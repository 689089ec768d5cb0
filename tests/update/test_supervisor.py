"""The service supervisor with real child processes and a real systemd notify socket."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from firmware.update.keys import Keyring
from firmware.update.slots import SlotManager
from firmware.update.supervisor import supervise
from tests.update.conftest import HARDWARE, MakeBundle, stop_after, wheel

pytestmark = [pytest.mark.hardware, pytest.mark.timeout(60)]

GOOD_APP = b"import time\ntime.sleep(30)\n"
CRASHING_APP = b"import sys\nsys.exit(3)\n"
COMMAND = [sys.executable, "{slot}/app.py"]


def firmware(make_bundle: MakeBundle, version: str, app: bytes) -> Path:
    return make_bundle(version, files={"app.py": app})


@pytest.fixture
def device(tmp_path: Path, make_bundle: MakeBundle, keyring: Keyring) -> SlotManager:
    manager = SlotManager(tmp_path / "device")
    manager.seed(firmware(make_bundle, "1.0.0", GOOD_APP), keyring, HARDWARE)
    return manager


def test_crashing_update_is_left_by_itself_after_three_starts(
    device: SlotManager, make_bundle: MakeBundle, keyring: Keyring
) -> None:
    device.install(firmware(make_bundle, "1.1.0", CRASHING_APP), keyring, HARDWARE)
    said: list[str] = []
    for _ in range(3):  # systemd restarts the service after each failure
        assert supervise(device, COMMAND, settle_s=5, say=said.append) != 0
    assert supervise(device, COMMAND, settle_s=0.1, say=said.append, stop=stop_after(0.5)) == 0
    assert any("rolled back to slot a" in line for line in said)
    assert device.load().good == "a" and device.load().slots["b"].status == "bad"


def test_healthy_update_is_kept_and_the_watchdog_is_fed(
    device: SlotManager,
    make_bundle: MakeBundle,
    keyring: Keyring,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(2)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify.sock"))
    monkeypatch.setenv("WATCHDOG_USEC", "100000")
    device.install(firmware(make_bundle, "1.1.0", GOOD_APP), keyring, HARDWARE)
    assert supervise(device, COMMAND, settle_s=0.2, stop=stop_after(0.6)) == 0
    assert device.load().good == "b" and device.installed_version() == "1.1.0"
    messages = set()
    while True:
        try:
            messages.add(notify.recv(1024).decode().split("\n")[0])
        except TimeoutError:
            break
        if {"READY=1", "WATCHDOG=1"} <= messages:
            break
    assert {"READY=1", "WATCHDOG=1"} <= messages
    notify.close()


def test_update_that_fails_its_health_command_is_rolled_back_at_once(
    device: SlotManager, make_bundle: MakeBundle, keyring: Keyring
) -> None:
    device.install(firmware(make_bundle, "1.1.0", GOOD_APP), keyring, HARDWARE)
    assert supervise(device, COMMAND, settle_s=0.1, health_command=["false"]) == 1
    assert device.load().good == "a" and device.load().trial is None


def test_update_stopped_before_it_settles_stays_on_trial(
    device: SlotManager, make_bundle: MakeBundle, keyring: Keyring
) -> None:
    device.install(firmware(make_bundle, "1.1.0", GOOD_APP), keyring, HARDWARE)
    assert supervise(device, COMMAND, settle_s=5, stop=stop_after(0.3)) == 0
    assert device.load().trial == "b" and device.load().attempts == 1


def tiny_wheel(directory: Path, version: str) -> Path:
    """A real, minimal wheel: one module that the slot's firmware command imports."""
    name = "ringfence_demo_app"
    return wheel(directory, name, version, {f"{name}/__init__.py": f"VERSION = {version!r}\n".encode()})


def test_wheels_are_unpacked_into_the_slot_and_imported_from_there(
    tmp_path: Path, vendor_key: object, keyring: Keyring
) -> None:
    from firmware.update import bundle_writer
    from firmware.update.unpack import unpack_wheels

    manager = SlotManager(tmp_path / "device")
    path = tmp_path / "fw.rfb"
    bundle_writer.build([tiny_wheel(tmp_path, "1.0.0")], "1.0.0", [HARDWARE], vendor_key, path)  # type: ignore[arg-type]
    manager.seed(path, keyring, HARDWARE, prepare=unpack_wheels)
    assert (manager.slot_dir("a") / "lib" / "ringfence_demo_app" / "__init__.py").exists()
    check = [
        sys.executable,
        "-c",
        "import ringfence_demo_app, sys; sys.exit(7 if ringfence_demo_app.VERSION == '1.0.0' else 9)",
    ]
    assert supervise(manager, check, settle_s=10) == 7  # the slot's own code ran, from the slot
    assert (
        supervise(
            manager,
            [sys.executable, "-c", "import ringfence_demo_app, time; time.sleep(30)"],
            settle_s=0.1,
            stop=stop_after(1.0),
        )
        == 0
    )
