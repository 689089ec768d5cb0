"""The central server on PostgreSQL: facilities as tenants, several stateless server processes behind one
address, migrations run by a command. A throwaway cluster (scripts/start-postgres) backs every test."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from dataclasses import asdict
from pathlib import Path

import pytest

from firmware.store import Store
from firmware.store.cache import CentralCache
from firmware.store.outbox import Outbox
from firmware.sync.connect import connect
from firmware.sync.credentials import SERVER_NAME, Authority
from firmware.sync.device_session import DeviceSync
from sim.central.db import CentralDB
from sim.central.server import ServerConfig, serve_channel
from tests.paths import ROOT
from tests.sync.conftest import channel_pair, inmate, purchase_status, request_signed, signed_charge, write_facility

pytestmark = pytest.mark.hardware


def facility_dir(tmp: Path, name: str, inmates: int) -> Path:
    directory = write_facility(tmp / name, inmates)
    with (directory / "inmates.jsonl").open("w") as out:  # ids that say which facility they belong to
        for i in range(inmates):
            out.write(json.dumps({"key": f"{name[0].upper()}{i:05d}", "value": inmate(i)}) + "\n")
    return directory


def sync(url: str, tmp: Path, device: str, key: bytes) -> tuple[bool, Store]:
    store = Store(tmp / f"{device}.sqlite")
    device_side, server_side = channel_pair()
    server = threading.Thread(
        target=serve_channel, args=(server_side, ServerConfig(url, 5.0, blob_root=tmp / "blobs")), daemon=True
    )
    server.start()
    try:
        return DeviceSync(store, device, key, timeout=5.0).run(device_side).agree, store
    finally:
        device_side.close()
        server.join(10)
        server_side.close()


def test_each_device_pulls_only_its_own_facility_and_sequences_are_per_facility(
    postgres_url: str, tmp_path: Path
) -> None:
    north, south = CentralDB(postgres_url, "north"), CentralDB(postgres_url, "south")
    north.load_dir(facility_dir(tmp_path, "north", 20))
    south.load_dir(facility_dir(tmp_path, "south", 5))
    keys = {"n-1": os.urandom(32), "s-1": os.urandom(32)}
    north.enroll("n-1", keys["n-1"])
    south.enroll("s-1", keys["s-1"])
    assert (north.head(), south.head()) == (41, 11)

    agreed, north_store = sync(postgres_url, tmp_path, "n-1", keys["n-1"])
    assert agreed
    cache = CentralCache(north_store)
    assert cache.count("inmates") == 20 and cache.get("inmates", "S00000") is None
    agreed, south_store = sync(postgres_url, tmp_path, "s-1", keys["s-1"])
    assert agreed and CentralCache(south_store).count("inmates") == 5

    south.put("inmates", "S00001", None)
    assert (north.head(), south.head()) == (41, 12), "a change in one facility does not move another's head"
    north.put("inmates", "I00001", inmate(1))  # who placed the call: the charge carries their proof of PIN
    Outbox(north_store).append(
        "ledger",
        signed_charge(
            {
                "call_id": "c1",
                "account": "debit:I00001",
                "kind": "charge",
                "amount_cents": 150,
                "at": "2026-01-05T10:00:00+00:00",
            },
            "n-1",
        ),
    )
    assert sync(postgres_url, tmp_path, "n-1", keys["n-1"])[0]
    assert north.get("accounts", "debit:I00001") == {"balance_cents": 850}
    assert south.get("accounts", "debit:I00001") == {"balance_cents": 1000}, "the same key in another facility"
    assert north.full_digest() == north.digest()[1] and south.full_digest() == south.digest()[1]
    north.close()
    south.close()


def test_serving_a_database_that_was_not_migrated_is_a_one_line_error(postgres_cluster: str) -> None:
    import psycopg

    with psycopg.connect(postgres_cluster, autocommit=True) as admin:
        admin.execute("CREATE DATABASE unmigrated")
    url = postgres_cluster.rsplit("/", 1)[0] + "/unmigrated"
    served = subprocess.run(
        [
            sys.executable,
            "-m",
            "firmware",
            "central",
            "serve",
            "--db",
            url,
            "--link",
            "tcp://127.0.0.1:0",
            "--blob-dir",
            "/tmp",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert served.returncode != 0
    missing = "0001_facilities, 0002_kiosk_books, 0003_hold_expiry, 0004_device_retirement, 0005_call_charges"
    assert f"{missing} not applied; run `ringfence central migrate" in served.stderr
    assert "Traceback" not in served.stderr


def test_two_server_processes_share_one_address_and_one_database(postgres_url: str, tmp_path: Path) -> None:
    authority = Authority.create()
    setup = CentralDB(postgres_url, "north", ca_key=tmp_path / "ca-key.pem")
    setup.set_authority(json.dumps(asdict(authority)), json.dumps(asdict(authority.issue(SERVER_NAME, True))))
    devices = {}
    for facility in ("north", "south"):
        db = setup.for_facility(facility)
        db.load_dir(facility_dir(tmp_path, facility, 10))
        for i in range(8):
            name = f"{facility}-{i}"
            key = os.urandom(32)
            db.enroll(name, key)
            devices[name] = authority.issue(name, False, key)
    setup.close()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"tcp://127.0.0.1:{port}"
    servers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "firmware",
                "central",
                "serve",
                "--db",
                postgres_url,
                "--link",
                url,
                "--reuse-port",
                "--blob-dir",
                str(tmp_path / "blobs"),
            ],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for server in servers:
            assert server.stderr is not None and server.stderr.readline().startswith("serving")
        results: dict[str, bool] = {}

        def device(name: str) -> None:
            store = Store(tmp_path / f"{name}.sqlite")
            for _session in range(3):
                results[name] = (
                    DeviceSync(store, name, devices[name].sync_key, timeout=10)
                    .run(connect(url, devices[name], timeout=10))
                    .agree
                )

        threads = [threading.Thread(target=device, args=(name,)) for name in devices]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert results == dict.fromkeys(devices, True)
    finally:
        logs = []
        for server in servers:
            server.terminate()
            logs.append(server.communicate(timeout=20)[1])
    served = [log.count("session ended") for log in logs]
    assert all(count > 0 for count in served), f"both processes served sessions: {served}"
    assert sum(served) == 3 * len(devices)
    check = CentralDB(postgres_url, "south")
    assert (
        check.head() == 21 and check.db.execute("SELECT count(*) FROM devices WHERE sessions = 3").fetchone()[0] == 16
    )
    check.close()


def test_purchases_and_reservations_on_postgresql_are_per_facility(postgres_url: str, tmp_path: Path) -> None:
    from firmware.sync.purchases import Purchases

    north = CentralDB(postgres_url, "north")
    north.load_dir(facility_dir(tmp_path, "north", 3))
    north.put("inmates", "I00001", inmate(1))  # the roster entry its proof of PIN is checked against
    north.set_trust("I00001", 5000)
    north.for_facility("south").set_trust("I00001", 7)
    key = os.urandom(32)
    north.enroll("n-1", key)
    store = Store(tmp_path / "n-1.sqlite")
    purchases = Purchases(store)
    with store.transaction() as db:
        bought = request_signed(purchases, db, "I00001", 1200, device="n-1")
    device_side, server_side = channel_pair()
    server = threading.Thread(
        target=serve_channel, args=(server_side, ServerConfig(postgres_url, 5.0, blob_root=tmp_path)), daemon=True
    )
    server.start()
    try:
        assert DeviceSync(store, "n-1", key, timeout=5.0).run(device_side).agree
    finally:
        device_side.close()
        server.join(10)
        server_side.close()
    applied = purchase_status(purchases, bought)
    assert applied.status == "applied" and applied.balance_cents == 2200
    assert north.db.execute("SELECT facility, cents FROM trust ORDER BY facility").fetchall() == [
        ("north", 3800),
        ("south", 7),
    ]
    north.close()


def test_on_postgresql_the_ca_key_is_a_private_file_of_its_own_never_a_row(postgres_url: str, tmp_path: Path) -> None:
    enroll = [sys.executable, "-m", "firmware", "central", "enroll", "--db", postgres_url, "--facility", "north"]
    key = tmp_path / "ca-key.pem"
    first = subprocess.run(
        [*enroll, "--ca-key", str(key), "--out", str(tmp_path / "d1.json"), "d-1"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert first.returncode == 0, first.stderr
    assert key.stat().st_mode & 0o777 == 0o600
    pair = CentralDB(postgres_url, "north").authority()
    assert pair is not None and "key_pem" not in json.loads(pair[0]), "the CA key is not a row"
    second = subprocess.run(
        [*enroll, "--out", str(tmp_path / "d2.json"), "d-2"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert second.returncode != 0 and "--ca-key" in second.stderr and "Traceback" not in second.stderr
