"""The shipped units under a real systemd (systemd-nspawn booting a directory): restarts, watchdog, rollback,
hardening as the firmware feels it, and a device with nothing intact to start that waits instead of looping."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from firmware.update.keys import Keyring
from firmware.update.slots import SlotManager
from sim.bench_device import bench_device
from tests.deploy.nspawn import Machine
from tests.paths import ROOT
from tests.update.conftest import ACCESS_KEY, HARDWARE, MakeBundle
from tests.update.test_watchdog import BEATING, HANGS
from tests.waiting import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.hardware, pytest.mark.timeout(300)]

HOME = "var/lib/ringfence"
#: The good firmware: before running its loop it tries what a bad update would, and writes down what happened.
PROBE = b"""\
import json, os
results = {}
for name, path in (("slot", os.environ["RINGFENCE_SLOT"] + "/evil.py"), ("system", "/usr/local/evil.py"),
                   ("etc", "/var/lib/ringfence/etc/evil.toml"), ("data", "/var/lib/ringfence/var/probe")):
    try:
        with open(path, "w") as out:
            out.write("x")
        results[name] = "written"
    except OSError as exc:
        results[name] = exc.strerror
results["data_mode"] = oct(os.stat("/var/lib/ringfence/var/probe").st_mode & 0o777)
with open("/var/lib/ringfence/var/probe.json", "w") as out:
    json.dump(results, out)
"""
#: The shipped unit, with the test's firmware command and shorter times.
OVERRIDE = """\
[Service]
ExecStart=
ExecStart=/usr/bin/python3 -I -m firmware slot run --settle 2 --hang 3 /usr/bin/python3 {slot}/app.py
WatchdogSec=4
"""


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    wait_for(condition, timeout, what, poll_s=0.5)  # each check asks systemd inside the container


def wait_said(machine: Machine, unit: str, line: str) -> str:
    """The unit's journal once it holds the line: the supervisor says a step after its state file records it,
    and journald stores it a moment later still."""
    wait_until(lambda: line in machine.journal(unit), 15, f"{unit} to say {line!r}")
    return machine.journal(unit)


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[Machine]:
    box = Machine(tmp_path / "root", f"rf{os.getpid()}-{tmp_path.name[-8:]}".replace("_", "-"))  # unique per run
    box.build()
    yield box
    box.shut_down()


def test_a_hung_update_is_restarted_by_systemd_then_rolled_back_and_the_good_slot_runs_hardened(
    machine: Machine, make_bundle: MakeBundle, keyring: Keyring
) -> None:
    home = machine.root / HOME
    (home / "etc").mkdir(parents=True)
    (home / "var").mkdir()
    slots = SlotManager(home)
    slots.seed(make_bundle("1.0.0", files={"app.py": PROBE + BEATING}), keyring, HARDWARE)
    slots.install(make_bundle("1.1.0", files={"app.py": HANGS}), keyring, HARDWARE)
    machine.chown_state()
    machine.install_unit(ROOT / "deploy/ringfence.service", OVERRIDE)
    machine.boot()

    wait_until(
        lambda: SlotManager(home).load().good == "a" and SlotManager(home).load().trial is None, 120, "the rollback"
    )
    assert SlotManager(home).load().slots["b"].status == "bad"
    wait_until(lambda: (home / "var/probe.json").exists(), 30, "the good slot's firmware")
    journal = wait_said(machine, "ringfence.service", "rolled back to slot a")
    assert journal.count("stopped answering (no heartbeat for 3 s)") == 3

    restarts = int(machine.show("ringfence.service", "NRestarts")["NRestarts"])
    time.sleep(10)  # more than twice WatchdogSec: fed by the beating loop, nothing restarts it
    state = machine.show("ringfence.service", "ActiveState", "SubState", "NRestarts")
    assert (state["ActiveState"], state["SubState"]) == ("active", "running")
    assert int(state["NRestarts"]) == restarts

    probe = json.loads((home / "var/probe.json").read_text())
    assert probe["slot"] == "Read-only file system"  # a firmware cannot rewrite its own slot
    assert probe["etc"] == "Read-only file system"
    assert probe["system"] in ("Read-only file system", "Permission denied")  # nor the system Python
    assert probe["data"] == "written" and probe["data_mode"] == "0o600"  # UMask=0077


def test_nothing_intact_to_start_stops_with_one_line_and_is_not_restarted(
    machine: Machine, make_bundle: MakeBundle, keyring: Keyring
) -> None:
    home = machine.root / HOME
    (home / "etc").mkdir(parents=True)
    slots = SlotManager(home)
    slots.seed(make_bundle("1.0.0", files={"app.py": BEATING}), keyring, HARDWARE)
    for damaged in (slots.state_path, slots.copy_path, slots.slot_dir("a") / "app.py"):
        damaged.write_bytes(b"\x00damaged")
    machine.chown_state()
    machine.install_unit(ROOT / "deploy/ringfence.service", OVERRIDE)
    machine.boot()
    wait_until(
        lambda: machine.show("ringfence.service", "ActiveState")["ActiveState"] == "failed", 60, "the service to stop"
    )
    time.sleep(5)  # RestartSec is 2 s: a crash loop would have restarted it by now
    state = machine.show("ringfence.service", "ActiveState", "NRestarts", "ExecMainStatus")
    assert state == {"ActiveState": "failed", "NRestarts": "0", "ExecMainStatus": "2"}
    said = [line for line in machine.journal("ringfence.service").splitlines() if line.startswith("ringfence:")]
    assert len(said) == 1 and "no slot is intact: reinstall the firmware" in said[0]


#: The shipped receiver, on the machine's loopback instead of the serial console (no serial port in a machine).
FLASH_OVERRIDE = """\
[Service]
ExecStart=
ExecStart=/usr/bin/python3 -I -m firmware slot receive --link tcp://127.0.0.1:7401 --plain-tcp
"""


def test_a_bundle_flashed_to_the_hardened_receiver_is_started_and_kept_by_the_device_service(
    machine: Machine, make_bundle: MakeBundle, keyring: Keyring
) -> None:
    home = bench_device(machine.root / HOME, keyring, HARDWARE, ACCESS_KEY)
    home.slots().seed(make_bundle("1.0.0", files={"app.py": BEATING}), keyring, HARDWARE)
    update = make_bundle("1.1.0", files={"app.py": BEATING})
    (machine.root / "root/fw.rfb").write_bytes(update.read_bytes())
    (machine.root / "root/access.key").write_text(ACCESS_KEY.hex())
    machine.chown_state()
    machine.install_unit(ROOT / "deploy/ringfence.service", OVERRIDE)
    machine.install_unit(ROOT / "deploy/ringfence-flash.service", FLASH_OVERRIDE)
    machine.boot()
    try:
        wait_until(lambda: "127.0.0.1:7401" in machine.run("ss", "-ltn").stdout, 30, "the receiver to listen")
    except AssertionError:
        raise AssertionError(machine.journal("ringfence-flash.service")[-2000:]) from None

    flashed = machine.run(
        "/usr/bin/python3",
        "-m",
        "firmware",
        "flash",
        "/root/fw.rfb",
        "--link",
        "tcp://127.0.0.1:7401",
        "--plain-tcp",
        "--access-key",
        "/root/access.key",
        timeout=120,
    )
    assert flashed.returncode == 0, flashed.stdout + flashed.stderr
    wait_until(lambda: SlotManager(home.root).load().good == "b", 60, "the new slot to be kept")
    journal = wait_said(machine, "ringfence.service", "slot b (1.1.0) is healthy: marked good")
    assert "slot b was installed: restarting to start it" in journal
    assert (home.root / "slots/b/app.py").stat().st_mode & 0o777 == 0o600  # the receiver's UMask=0077
