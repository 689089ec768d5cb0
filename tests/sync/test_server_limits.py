"""The central server's resources are bounded: idle connections, slow handshakes and running out of file
descriptors cost it neither threads nor its listener, and a real device still syncs."""

from __future__ import annotations

import json
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest

from firmware.sync.connect import connect
from firmware.sync.conversation import RemoteError
from firmware.sync.credentials import SERVER_NAME, Authority, Credentials
from firmware.sync.device_session import DeviceSync
from sim.central.server import CentralServer, ServerConfig
from sim.central.tls_gate import GateLimits
from tests.paths import ROOT
from tests.sync.conftest import DEVICE, World
from tests.waiting import wait_for


def credentials(world: World) -> tuple[Credentials, Credentials]:
    """The server's and the device's certificates from one new authority kept in the central database."""
    authority = Authority.create()
    server = authority.issue(SERVER_NAME, True)
    central = world.central()
    central.set_authority(json.dumps(asdict(authority)), json.dumps(asdict(server)))
    central.close()
    return server, authority.issue(DEVICE, False, world.key)


def idle_connections(port: int, count: int) -> list[socket.socket]:
    """Connections that never say a word (no TLS hello)."""
    return [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]


def sync(world: World, url: str, device: Credentials, name: str = "device") -> bool:
    return DeviceSync(world.store(name), DEVICE, world.key, timeout=10.0).run(connect(url, device, timeout=10)).agree


@pytest.fixture
def more_files() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def serving(world: World, server_creds: Credentials, **options: object) -> tuple[CentralServer, str]:
    server = CentralServer(ServerConfig(world.db_path, idle_timeout=5.0, **options), server_creds)  # type: ignore[arg-type]
    server.start(["tcp://127.0.0.1:0"])
    return server, f"tcp://127.0.0.1:{server.ports['tcp://127.0.0.1:0']}"


@pytest.mark.slow
def test_two_thousand_idle_connections_then_a_device_syncs_normally(world: World, more_files: None) -> None:
    server_creds, device = credentials(world)
    threads_before = threading.active_count()
    server, url = serving(world, server_creds)
    idle: list[socket.socket] = []
    try:
        idle = idle_connections(int(url.rsplit(":", 1)[1]), 2000)
        time.sleep(0.5)
        assert threading.active_count() - threads_before < 10, "idle connections must not cost a thread each"
        assert sync(world, url, device)
        gate = server.gates[0]
        assert gate.stats["accepted"] >= 2001 and gate.stats["handshakes"] == 1
        assert gate.pending() + gate.stats["pushed_out"] + gate.stats["timed_out"] >= 2000
        assert sync(world, url, device, "second"), "and again, the idle ones still open"
    finally:
        for sock in idle:
            sock.close()
        server.stop.set()


def test_a_handshake_not_finished_in_time_is_closed(world: World) -> None:
    server_creds, device = credentials(world)
    # 0.7 s between the look before the deadline and the deadline itself: a loaded machine oversleeps 0.3 s.
    server, url = serving(world, server_creds, gate=GateLimits(handshake_timeout=1.0))
    try:
        (early,) = idle_connections(int(url.rsplit(":", 1)[1]), 1)
        time.sleep(0.3)
        early.settimeout(0.01)
        with pytest.raises(TimeoutError):
            early.recv(1)  # still open before its deadline
        early.settimeout(2)
        assert early.recv(1) == b"", "closed by the server at its deadline"
        assert server.gates[0].stats["timed_out"] == 1
        assert sync(world, url, device)
    finally:
        server.stop.set()


def test_past_the_handshake_cap_the_oldest_waiting_connection_makes_room(world: World) -> None:
    server_creds, device = credentials(world)
    server, url = serving(world, server_creds, gate=GateLimits(max_handshakes=10))
    try:
        conns = idle_connections(int(url.rsplit(":", 1)[1]), 15)
        gate = server.gates[0]
        # The server thread counts a connection pushed out just before it files the new one: wait for both.
        wait_for(
            lambda: gate.stats["pushed_out"] == 5 and gate.pending() == 10,
            5.0,
            "five connections past the cap were not pushed out, or ten not left waiting",
        )
        time.sleep(0.2)  # nothing more comes: no connection pushed out past the five
        assert gate.pending() == 10 and gate.stats["pushed_out"] == 5
        conns[0].settimeout(2)
        assert conns[0].recv(1) == b""
        assert sync(world, url, device)
    finally:
        server.stop.set()


def test_past_every_session_and_queue_place_a_device_is_told_busy(world: World) -> None:
    server_creds, device = credentials(world)
    server, url = serving(world, server_creds, max_sessions=1, max_queued=0)
    try:
        held = connect(url, device, timeout=10)  # holds the one session, saying nothing
        time.sleep(0.3)
        with pytest.raises(RemoteError, match="busy"):
            sync(world, url, device)
        assert server.busy_refusals == 1
        held.close()
        time.sleep(0.3)
        assert sync(world, url, device, "later")
    finally:
        server.stop.set()


@pytest.mark.slow
def test_out_of_file_descriptors_the_server_keeps_accepting(world: World, tmp_path: Path, more_files: None) -> None:
    """The server process may hold 200 files; 400 idle connections exhaust them (EMFILE)."""
    _server_creds, device = credentials(world)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"tcp://127.0.0.1:{port}"
    limit = "import resource; resource.setrlimit(resource.RLIMIT_NOFILE, (200, 200));"
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            limit + "from firmware.cli import main; main()",
            "central",
            "serve",
            "--db",
            str(world.db_path),
            "--link",
            url,
            "--idle-timeout",
            "5",
        ],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    idle: list[socket.socket] = []
    try:
        assert server.stderr is not None and server.stderr.readline().startswith("serving")
        idle = idle_connections(port, 400)
        time.sleep(1.0)
        assert sync(world, url, device)
        assert server.poll() is None
    finally:
        for sock in idle:
            sock.close()
        server.terminate()
        _out, err = server.communicate(timeout=10)
    assert "cannot accept (Too many open files)" in err
