"""Device and reference server as two processes over a paced, faulty pty pair and over loopback TLS.

Whatever happens to the link or to either process, afterwards a clean session agrees, the server holds each
outbox record exactly once, and the device's cache equals the server's data.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.errors import ExitCode
from firmware.store import Store
from firmware.store.outbox import Outbox
from firmware.sync.credentials import Credentials
from firmware.sync.downstream import Downstream
from firmware.sync.identity import save_identity
from sim.central.db import CentralDB
from sim.ports import free_port
from sim.serial_cable import Faults, SerialCable
from sim.tcp_proxy import ProxyFaults, TcpFaultProxy
from tests.paths import ROOT

pytestmark = pytest.mark.hardware
RECORDS = 40


def ringfence(*args: str) -> list[str]:
    return [sys.executable, "-m", "firmware", *args]


def write_facility(directory: Path, inmates: int) -> None:
    """Inmates with random PIN verifiers and allowed numbers (values that do not compress away), as the rules
    want them."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "inmates.jsonl").open("w") as out:
        for i in range(inmates):
            value = {
                "pin_verifier": f"k1:{os.urandom(32).hex()}",
                "name": f"Inmate {i}",
                "language": "es" if i % 3 else "en",
                "pan": {"numbers": [f"305{int.from_bytes(os.urandom(3), 'big') % 8000000 + 2000000}"]},
            }
            out.write(json.dumps({"key": f"I{i:05d}", "value": value}) + "\n")
    with (directory / "numbers.jsonl").open("w") as out:
        for i in range(inmates):
            out.write(
                json.dumps({"key": f"305555{i:04d}", "value": {"line_type": "mobile", "collect_billable": False}})
                + "\n"
            )


class Setup:
    def __init__(self, tmp: Path, inmates: int = 800) -> None:
        self.tmp = tmp
        self.db = tmp / "central.sqlite"
        self.store_path = tmp / "device.sqlite"
        subprocess.run(
            ringfence("central", "enroll", "--db", str(self.db), "--out", str(tmp / "dev.json"), "A-12"),
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
        write_facility(tmp / "facility", inmates)
        subprocess.run(
            ringfence("central", "load", "--db", str(self.db), str(tmp / "facility")),
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
        store = Store(self.store_path)
        save_identity(store, Credentials.load(tmp / "dev.json"))
        outbox = Outbox(store)
        self.ids = {outbox.append("call", {"n": i, "dialed": f"305555{i:04d}"}) for i in range(RECORDS)}
        store.close()
        self.servers: list[subprocess.Popen[bytes]] = []

    def serve(self, url: str, *extra: str) -> subprocess.Popen[bytes]:
        server = subprocess.Popen(
            ringfence("central", "serve", "--db", str(self.db), "--link", url, "--idle-timeout", "10", *extra),
            cwd=ROOT,
            stderr=subprocess.PIPE,
        )
        line = server.stderr.readline().decode() if server.stderr else ""
        assert line.startswith("serving"), line
        self.servers.append(server)
        return server

    def sync(self, url: str, timeout: float = 60, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ringfence("sync", "--link", url, "--store", str(self.store_path), "--timeout", "5", *extra),
            check=False,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start_sync(self, url: str, *extra: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            ringfence("sync", "--link", url, "--store", str(self.store_path), "--timeout", "5", *extra),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def assert_agree(self) -> None:
        central = CentralDB(self.db)
        stored = [row[0] for row in central.db.execute("SELECT id FROM received")]
        assert sorted(stored) == sorted(self.ids)
        head, digest = central.digest()
        central.close()
        store = Store(self.store_path)
        assert Outbox(store).count_pending() == 0
        downstream = Downstream(store)
        assert downstream.cursor() == head and downstream.digest() == digest
        store.close()

    def stop(self) -> None:
        for server in self.servers:
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
                try:
                    server.wait(10)
                except subprocess.TimeoutExpired:
                    server.kill()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    made = Setup(tmp_path)
    yield made
    made.stop()


@pytest.mark.slow
def test_sync_over_a_pty_pair_at_115200_baud_through_corruption_loss_duplication_and_reordering(setup: Setup) -> None:
    cable = SerialCable(115200, Faults(corrupt=0.05, drop=0.05, duplicate=0.05, reorder=0.05, seed=11))
    try:
        setup.serve(cable.end_b)
        result = setup.sync(cable.end_a)
        assert result.returncode == 0, result.stderr
        assert "sync agreed" in result.stdout
        assert cable.stats.corrupted and cable.stats.dropped and cable.stats.duplicated and cable.stats.reordered
        setup.assert_agree()
        again = setup.sync(cable.end_a)
        assert again.returncode == 0 and " 0 changes in" in again.stdout
    finally:
        cable.close()


@pytest.mark.slow
def test_a_device_killed_mid_sync_over_serial_completes_on_the_next_run(setup: Setup) -> None:
    cable = SerialCable(38400)
    try:
        setup.serve(cable.end_b, "--baud", "38400")
        device = setup.start_sync(cable.end_a, "--baud", "38400")
        time.sleep(2.0)
        assert device.poll() is None, "the sync should still be running when it is killed"
        device.kill()
        device.wait()
        result = setup.sync(cable.end_a, 120, "--baud", "38400")
        assert result.returncode == 0, result.stderr
        setup.assert_agree()
    finally:
        cable.close()


@pytest.mark.slow
def test_a_server_killed_mid_sync_over_serial_loses_nothing(setup: Setup) -> None:
    cable = SerialCable(38400)
    try:
        server = setup.serve(cable.end_b, "--baud", "38400")
        device = setup.start_sync(cable.end_a, "--baud", "38400")
        time.sleep(2.0)
        server.kill()
        server.wait()
        # Killed before or after the device connected: either way the device fails with a reason, not a hang.
        assert device.wait(60) == ExitCode.LINK  # the line went quiet: a link failure, as flash reports it
        setup.serve(cable.end_b, "--baud", "38400")
        result = setup.sync(cable.end_a, 120, "--baud", "38400")
        assert result.returncode == 0, result.stderr
        setup.assert_agree()
    finally:
        cable.close()


@pytest.mark.slow
def test_sync_over_tls_between_two_processes_and_a_device_killed_mid_sync(setup: Setup) -> None:
    port = free_port()
    setup.serve(f"tcp://127.0.0.1:{port}")
    proxy = TcpFaultProxy(port, ProxyFaults(cut_at=9000))
    try:
        cut = setup.sync(f"tcp://127.0.0.1:{proxy.port}")
        assert cut.returncode == ExitCode.LINK and "run it again" in cut.stderr
        proxy.faults = ProxyFaults(corrupt_at=12000)
        corrupted = setup.sync(f"tcp://127.0.0.1:{proxy.port}")
        assert corrupted.returncode == ExitCode.LINK  # TLS drops the corrupted record: the link is lost
        device = setup.start_sync(f"tcp://127.0.0.1:{port}")
        time.sleep(0.3)
        device.kill()
        device.wait()
        result = setup.sync(f"tcp://127.0.0.1:{port}")
        assert result.returncode == 0, result.stderr
        setup.assert_agree()
    finally:
        proxy.close()


def test_a_device_with_a_certificate_from_another_authority_is_refused(setup: Setup, tmp_path: Path) -> None:
    port = free_port()
    setup.serve(f"tcp://127.0.0.1:{port}")
    stranger_db = tmp_path / "other.sqlite"
    subprocess.run(
        ringfence("central", "enroll", "--db", str(stranger_db), "--out", str(tmp_path / "x.json"), "A-12"),
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    result = subprocess.run(
        ringfence(
            "sync",
            "--link",
            f"tcp://127.0.0.1:{port}",
            "--store",
            str(tmp_path / "x.sqlite"),
            "--credentials",
            str(tmp_path / "x.json"),
            "--timeout",
            "5",
        ),
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == ExitCode.LINK and "certificate" in result.stderr.lower()  # as flash says it
    assert CentralDB(setup.db).received_count("A-12") == 0


@pytest.mark.slow
def test_one_server_serves_two_serial_lines_and_tls_at_once(setup: Setup, tmp_path: Path) -> None:
    cables = [SerialCable(115200), SerialCable(115200)]
    port = free_port()
    try:
        server = subprocess.Popen(
            ringfence(
                "central",
                "serve",
                "--db",
                str(setup.db),
                "--link",
                cables[0].end_b,
                "--link",
                cables[1].end_b,
                "--link",
                f"tcp://127.0.0.1:{port}",
            ),
            cwd=ROOT,
            stderr=subprocess.PIPE,
        )
        setup.servers.append(server)
        for _ in range(3):
            assert server.stderr is not None and server.stderr.readline().startswith(b"serving")
        names = ["B-1", "B-2", "B-3"]
        for name in names:
            subprocess.run(
                ringfence("central", "enroll", "--db", str(setup.db), "--out", str(tmp_path / f"{name}.json"), name),
                check=True,
                capture_output=True,
                cwd=ROOT,
            )
        urls = [cables[0].end_a, cables[1].end_a, f"tcp://127.0.0.1:{port}"]
        devices = [
            subprocess.Popen(
                ringfence(
                    "sync",
                    "--link",
                    url,
                    "--store",
                    str(tmp_path / f"{name}.sqlite"),
                    "--credentials",
                    str(tmp_path / f"{name}.json"),
                    "--timeout",
                    "10",
                ),
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for name, url in zip(names, urls, strict=True)
        ]
        for device in devices:
            out, err = device.communicate(timeout=120)
            assert device.returncode == 0, err
            assert b"sync agreed" in out
        central = CentralDB(setup.db)
        cursors = dict(central.db.execute("SELECT device_id, cursor FROM devices WHERE device_id LIKE 'B-%'"))
        assert cursors == dict.fromkeys(names, central.head())
    finally:
        for cable in cables:
            cable.close()


def test_a_server_killed_mid_sync_over_tls_loses_nothing(setup: Setup) -> None:
    port = free_port()
    server = setup.serve(f"tcp://127.0.0.1:{port}")
    slow = TcpFaultProxy(port, ProxyFaults(rate=8000))
    try:
        device = setup.start_sync(f"tcp://127.0.0.1:{slow.port}")
        time.sleep(2.5)
        assert device.poll() is None, "the session should still be under way when the server dies"
        server.kill()
        server.wait()
        assert device.wait(60) == ExitCode.LINK
        setup.serve(f"tcp://127.0.0.1:{port}")
        result = setup.sync(f"tcp://127.0.0.1:{port}")
        assert result.returncode == 0, result.stderr
        setup.assert_agree()
    finally:
        slow.close()
