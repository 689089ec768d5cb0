"""The supervisor watches the firmware's event loop, not merely its process: a hung loop is a failed start."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from firmware.update.keys import Keyring
from firmware.update.slots import SlotManager
from firmware.update.supervisor import Beats, supervise
from tests.update.conftest import HARDWARE, MakeBundle, stop_after

pytestmark = [pytest.mark.hardware, pytest.mark.timeout(90)]

COMMAND = [sys.executable, "{slot}/app.py"]
#: A real runtime in a real process: its loop beats on the supervisor's pipe; with HANG_AFTER set, a handler
#: that never returns is reached after that many seconds, as a firmware stuck on a dead device would be.
RUNTIME_APP = """\
import os, threading, time
from dataclasses import dataclass
from typing import ClassVar
from firmware.commands import Command
from firmware.runtime import Runtime
from hal.clock import MonotonicClock
from hal.events import KeyDown

HANG_AFTER = {hang_after}

@dataclass(frozen=True)
class Hang(Command):
    kind: ClassVar[str] = "hang"

class Flow:
    def handle(self, event):
        return [Hang()] if isinstance(event, KeyDown) else []

clock = MonotonicClock()
runtime = Runtime(clock, [Flow()])
runtime.on(Hang, lambda command: time.sleep(3600))
if HANG_AFTER is not None:
    threading.Timer(HANG_AFTER, lambda: runtime.post(KeyDown(clock.now(), "1"))).start()
HANG_AT = float(os.environ.get("RINGFENCE_TEST_HANG_AT", "inf"))  # a moment on the machine's monotonic clock
if time.monotonic() >= HANG_AT:
    time.sleep(3600)  # started after the moment (a loaded machine): hung before its first beat
elif HANG_AT != float("inf"):
    threading.Timer(HANG_AT - time.monotonic(), lambda: runtime.post(KeyDown(clock.now(), "1"))).start()
runtime.run_realtime(threading.Event(), 0.05)
"""
BEATING = RUNTIME_APP.format(hang_after=None).encode()
HANGS = RUNTIME_APP.format(hang_after=0.5).encode()
HANGS_AT = RUNTIME_APP.format(hang_after=None).encode()  # with RINGFENCE_TEST_HANG_AT set
SILENT = b"import time\ntime.sleep(60)\n"


@pytest.fixture
def device(tmp_path: Path, make_bundle: MakeBundle, keyring: Keyring) -> SlotManager:
    manager = SlotManager(tmp_path / "device")
    manager.seed(make_bundle("1.0.0", files={"app.py": BEATING}), keyring, HARDWARE)
    return manager


def test_a_hung_event_loop_is_restarted_and_after_its_starts_rolled_back(
    device: SlotManager,
    make_bundle: MakeBundle,
    keyring: Keyring,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify.sock"))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    device.install(make_bundle("1.1.0", files={"app.py": HANGS}), keyring, HARDWARE)
    said: list[str] = []
    for _ in range(3):  # the process lives on, hung: each start ends as a failure, as systemd restarts it
        assert supervise(device, COMMAND, settle_s=2.5, say=said.append, hang_s=1.5) == 1
        assert device.load().trial == "b"  # never kept: it hung before it settled
    assert sum("stopped answering" in line for line in said) == 3
    watchdog_pings = []
    while True:
        try:
            watchdog_pings.append(notify.recv(1024))
        except BlockingIOError:
            break
    notify.close()
    assert watchdog_pings  # fed while the loop turned
    assert supervise(device, COMMAND, settle_s=0.3, say=said.append, hang_s=1.5, stop=stop_after(1.5)) == 0
    assert any("rolled back to slot a" in line for line in said)
    assert device.load().good == "a" and device.load().slots["b"].status == "bad"


def test_a_firmware_that_never_beats_is_not_kept(
    device: SlotManager, make_bundle: MakeBundle, keyring: Keyring
) -> None:
    device.install(make_bundle("1.1.0", files={"app.py": SILENT}), keyring, HARDWARE)
    said: list[str] = []
    assert supervise(device, COMMAND, settle_s=0.2, say=said.append, hang_s=1.0) == 1
    assert device.load().trial == "b" and device.load().good == "a"
    assert any("no heartbeat for 1 s" in line for line in said)


def test_a_beating_update_is_kept(device: SlotManager, make_bundle: MakeBundle, keyring: Keyring) -> None:
    """The first beat is due within hang_s of the start: Python's start-up with the runtime's imports took more than
    1.5 s at load average 15, so the bound is 10 s, and the supervisor stops once the slot is kept, not at 2.5 s."""
    device.install(make_bundle("1.1.0", files={"app.py": BEATING}), keyring, HARDWARE)
    stop = threading.Event()

    def stop_once_kept() -> None:
        deadline = time.monotonic() + 60
        while device.load().good != "b" and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()

    threading.Thread(target=stop_once_kept, daemon=True).start()
    assert supervise(device, COMMAND, settle_s=0.5, hang_s=10, stop=stop) == 0
    assert device.load().good == "b"


def test_an_install_while_running_is_started_by_the_supervisor_itself(
    device: SlotManager, make_bundle: MakeBundle, keyring: Keyring
) -> None:
    """The flash receiver needs no right to restart the service: switching `current` is enough."""
    said: list[str] = []
    threading.Timer(
        1.0, lambda: device.install(make_bundle("1.1.0", files={"app.py": BEATING}), keyring, HARDWARE)
    ).start()
    assert supervise(device, COMMAND, settle_s=0.2, say=said.append, hang_s=5, stop=stop_after(10)) == 0
    assert any("slot b was installed: restarting" in line for line in said)
    assert supervise(device, COMMAND, settle_s=0.5, hang_s=5, stop=stop_after(2.5)) == 0
    assert device.load().good == "b"


def test_a_loop_that_hung_before_it_settled_is_not_kept_though_its_last_beat_is_recent(
    device: SlotManager, make_bundle: MakeBundle, keyring: Keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settling (1 s) comes before the hang limit (3 s) runs out: only a beat after settling keeps the slot.

    The loop hangs at a moment on the machine's clock 0.5 s before settling can begin, however late the loaded
    machine starts it; beats it wrote before then and the supervisor reads late do not count as after settling.
    """
    device.install(make_bundle("1.1.0", files={"app.py": HANGS_AT}), keyring, HARDWARE)
    monkeypatch.setenv("RINGFENCE_TEST_HANG_AT", str(time.monotonic() + 0.5))
    said: list[str] = []
    assert supervise(device, COMMAND, settle_s=1.0, say=said.append, hang_s=3.0) == 1
    assert device.load().trial == "b" and not any("marked good" in line for line in said)


REFUSES_CONFIG = (
    b"import sys\nprint('ringfence: device.toml: [audio] device: not a string', file=sys.stderr)\nsys.exit(2)\n"
)


def test_a_good_slot_that_refuses_its_configuration_stops_the_service_instead_of_looping(
    tmp_path: Path, make_bundle: MakeBundle, keyring: Keyring
) -> None:
    manager = SlotManager(tmp_path / "device")
    manager.seed(make_bundle("1.0.0", files={"app.py": REFUSES_CONFIG}), keyring, HARDWARE)
    said: list[str] = []
    assert supervise(manager, COMMAND, settle_s=5, say=said.append, hang_s=5) == 2  # RestartPreventExitStatus
    assert said[-1] == (
        "slot a firmware cannot start (status 2: its configuration is unusable, see the line "
        "above); the service stops until a technician fixes it"
    )


def test_a_trial_slot_that_refuses_its_configuration_is_restarted_until_it_is_rolled_back(
    device: SlotManager, make_bundle: MakeBundle, keyring: Keyring
) -> None:
    device.install(make_bundle("1.1.0", files={"app.py": REFUSES_CONFIG}), keyring, HARDWARE)
    for _ in range(3):
        assert supervise(device, COMMAND, settle_s=5, hang_s=5) == 1
    assert supervise(device, COMMAND, settle_s=0.2, hang_s=5, stop=stop_after(2.0)) == 0
    assert device.load().good == "a" and device.load().slots["b"].status == "bad"


def test_a_beat_is_dated_by_the_read_before_it_not_by_a_late_read() -> None:
    """A supervisor that reads late must not take a beat written before settling for one after it."""
    beats = Beats()
    write_end = os.dup(beats.write_fd)
    beats.child_started()
    try:
        start = time.monotonic()
        assert beats.fresh(start, 5.0) and not beats.seen_after(start)
        os.write(write_end, b".")  # written just after the read at `start`...
        assert beats.fresh(start + 10.0, 20.0)  # ...and read 10 s late
        assert beats.seen_after(start) and not beats.seen_after(start + 1.0)
        os.write(write_end, b".")
        assert beats.fresh(start + 11.0, 20.0)
        assert beats.seen_after(start + 10.0)
    finally:
        os.close(write_end)
        beats.close()
