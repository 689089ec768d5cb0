"""`ringfence flash` end to end: a device receiver on a real TCP socket and on a pty serial cable."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from firmware.cli import main
from firmware.errors import ExitCode
from firmware.tech.home import DeviceHome
from firmware.update.receiver import serve
from hal.link import TcpListener
from sim.serial_cable import Faults, SerialCable
from tests.update.conftest import ACCESS_KEY, MakeBundle, receiver_on

pytestmark = [pytest.mark.hardware, pytest.mark.timeout(120)]


@pytest.fixture
def tcp_device(device_home: DeviceHome) -> Iterator[str]:
    with receiver_on(TcpListener("tcp://127.0.0.1:0"), device_home) as url:
        yield url


def flash(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["flash", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


def test_flash_over_tcp_with_json_progress(
    tcp_device: str, device_home: DeviceHome, make_bundle: MakeBundle, key_file: Path
) -> None:
    path = make_bundle("1.1.0", size=300_000)
    code, out, err = flash(path, "--link", tcp_device, "--plain-tcp", "--access-key", key_file, "--json")
    assert code == ExitCode.OK, err
    records = [json.loads(line) for line in out.splitlines()]
    progress = [r for r in records if r["event"] == "progress"]
    assert progress[-1]["sent"] == progress[-1]["total"] == path.stat().st_size
    assert all({"bytes_per_s", "eta_s"} <= r.keys() for r in progress)
    result = records[-1]
    assert result["event"] == "result" and result["status"] == "installed" and result["exit_code"] == 0
    assert device_home.slots().verify_slot("b") is None


def test_flash_dry_run_and_refusal_exit_codes(tcp_device: str, make_bundle: MakeBundle, key_file: Path) -> None:
    code, out, _ = flash(
        make_bundle("1.1.0"), "--link", tcp_device, "--plain-tcp", "--access-key", key_file, "--dry-run"
    )
    assert code == ExitCode.OK and "dry_run" in out and "would install 1.1.0" in out
    code, out, _ = flash(make_bundle("0.5.0"), "--link", tcp_device, "--plain-tcp", "--access-key", key_file)
    assert code == ExitCode.REFUSED and "downgrade" in out


def test_flash_to_nobody_is_a_link_failure(make_bundle: MakeBundle, key_file: Path) -> None:
    listener = TcpListener("tcp://127.0.0.1:0")
    url = f"tcp://127.0.0.1:{listener.port}"
    listener.close()
    code, out, _ = flash(
        make_bundle("1.1.0"), "--link", url, "--plain-tcp", "--access-key", key_file, "--retries", "1", "--timeout", "1"
    )
    assert code == ExitCode.LINK and "link_failed" in out


def test_flash_all_reports_each_device(
    tmp_path: Path, tcp_device: str, make_bundle: MakeBundle, key_file: Path
) -> None:
    dead = TcpListener("tcp://127.0.0.1:0")
    dead_url = f"tcp://127.0.0.1:{dead.port}"
    dead.close()
    devices = tmp_path / "devices.txt"
    devices.write_text(f"# north block\n{tcp_device}\n\n{dead_url}  # unplugged\n")
    code, out, _ = flash(
        make_bundle("1.1.0"),
        "--all",
        devices,
        "--plain-tcp",
        "--access-key",
        key_file,
        "--json",
        "--retries",
        "0",
        "--timeout",
        "1",
    )
    records = [json.loads(line) for line in out.splitlines()]
    results = {r["url"]: r["status"] for r in records if r["event"] == "result"}
    assert results == {tcp_device: "installed", dead_url: "link_failed"}
    assert records[-1] == {"event": "summary", "devices": 2, "ok": 1, "failed": [dead_url]}
    assert code == ExitCode.SOME_FAILED


def test_flash_all_refuses_serial_links(tmp_path: Path, make_bundle: MakeBundle, key_file: Path) -> None:
    devices = tmp_path / "devices.txt"
    devices.write_text("/dev/ttyUSB0\n")
    code, _, err = flash(make_bundle("1.1.0"), "--all", devices, "--plain-tcp", "--access-key", key_file)
    assert code == ExitCode.USAGE and "network only" in err


def test_flash_over_a_serial_cable_with_corrupted_and_dropped_frames(
    device_home: DeviceHome, make_bundle: MakeBundle, key_file: Path
) -> None:
    cable = SerialCable(baudrate=None, faults=Faults(corrupt=0.02, drop=0.02, seed=3))
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(cable.end_b, device_home, stop, 10.0))
    thread.start()
    try:
        code, out, err = flash(make_bundle("1.1.0", size=60_000), "--link", cable.end_a, "--access-key", key_file)
    finally:
        stop.set()
        thread.join(timeout=15)
        cable.close()
    assert code == ExitCode.OK, out + err
    assert "installed 1.1.0 in slot b" in out
    assert device_home.slots().verify_slot("b") is None


@pytest.mark.slow
def test_flasher_process_killed_at_random_moments_then_resumed(
    tcp_device: str, device_home: DeviceHome, make_bundle: MakeBundle, key_file: Path
) -> None:
    """The real command, SIGKILLed from outside up to 40 times: each run resumes, the last one installs."""
    path = make_bundle("1.1.0", files={"app.py": b"VERSION = '1.1.0'\n", "data.bin": random.randbytes(12_000_000)})
    rng = random.Random(11)
    cmd = [
        sys.executable,
        "-m",
        "firmware",
        "flash",
        str(path),
        "--link",
        tcp_device,
        "--plain-tcp",
        "--access-key",
        str(key_file),
        "--json",
        "--retries",
        "0",
    ]
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    partials = set()

    def received() -> int:
        """Bytes in the partial files now; one may be completed (renamed) between listing and stat."""
        total = 0
        for part in (device_home.data_dir / "incoming").glob("*.part"):
            with contextlib.suppress(FileNotFoundError):
                total += part.stat().st_size
        return total

    for _ in range(40):
        before = received()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        # Kill once this run has moved the transfer on (start-up time depends on the machine's load), at a random
        # moment after that.
        deadline = time.monotonic() + 60
        while proc.poll() is None and received() <= before and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.03))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        partials.add(received())
        if device_home.slots().load().trial is not None:
            break
    assert len(partials - {0}) >= 2, partials  # killed mid-transfer more than once, and resumed each time
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    last = json.loads(result.stdout.splitlines()[-1])
    assert last["status"] == "installed", last
    assert device_home.slots().verify_slot("b") is None


@pytest.mark.slow
def test_flash_over_serial_survives_the_cable_pulled_mid_transfer(
    device_home: DeviceHome, make_bundle: MakeBundle, key_file: Path
) -> None:
    cable = SerialCable(baudrate=230400)
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(cable.end_b, device_home, stop, 5.0, 230400))
    thread.start()
    path = make_bundle("1.1.0", files={"data.bin": random.Random(1).randbytes(120_000)})
    threading.Timer(2.5, cable.cut, args=(12.0,)).start()  # a third of the way through, for longer than the timeout
    try:
        code, out, err = flash(
            path, "--link", cable.end_a, "--access-key", key_file, "--baud", "230400", "--timeout", "5", "--json"
        )
    finally:
        stop.set()
        thread.join(timeout=15)
        cable.close()
    assert code == ExitCode.OK, out + err
    result = json.loads(out.splitlines()[-1])
    assert result["status"] == "installed"
    assert result["attempts"] >= 2 and result["resumed_from"][-1] > 0  # reconnected and resumed mid-bundle
    assert device_home.slots().verify_slot("b") is None


@pytest.mark.slow
def test_device_receiver_killed_mid_transfer_then_restarted(
    device_home: DeviceHome, make_bundle: MakeBundle, key_file: Path
) -> None:
    """The device side dies (SIGKILL) while receiving; once it is back the same flash resumes and installs."""
    from firmware.update.flasher import Flasher

    free = TcpListener("tcp://127.0.0.1:0")
    url = f"tcp://127.0.0.1:{free.port}"
    free.close()
    cmd = [
        sys.executable,
        "-m",
        "firmware",
        "slot",
        "receive",
        "--link",
        url,
        "--plain-tcp",
        "--home",
        str(device_home.root),
    ]
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    path = make_bundle("1.1.0", files={"data.bin": random.Random(2).randbytes(30_000_000)})
    receivers = [subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)]
    sent: list[int] = []

    def kill_then_restart() -> None:
        while not sent or sent[-1] < 5_000_000:
            time.sleep(0.01)
        receivers[0].send_signal(signal.SIGKILL)
        receivers[0].wait()
        time.sleep(1.0)
        receivers.append(subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL))

    chaos = threading.Thread(target=kill_then_restart)
    chaos.start()
    try:
        outcome = Flasher(path, ACCESS_KEY, retries=30, retry_delay=0.5, timeout=5).flash(
            url, lambda done, total: sent.append(done)
        )
    finally:
        chaos.join(timeout=30)
        for proc in receivers:
            proc.terminate()
            proc.wait(timeout=10)
    assert outcome.status == "installed", outcome.message
    assert outcome.attempts >= 2 and max(outcome.resumed_from) > 0
    assert outcome.bytes_sent < 2 * path.stat().st_size
    assert device_home.slots().verify_slot("b") is None
