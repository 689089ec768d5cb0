"""Fixtures for sync tests: a central database with a small facility, an enrolled device, in-process links."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from firmware.ids import new_id
from firmware.rules.pin_proof import META, PinProof, call_message, purchase_message
from firmware.store import Store
from firmware.sync.channel import Channel, ChannelClosed, StreamChannel
from firmware.sync.device_session import DeviceSync, SyncReport
from firmware.sync.purchases import Purchases, PurchaseStatus
from firmware.sync.schema import Purchase
from hal.link import TcpListener, open_link
from sim.central.db import CentralDB
from sim.central.server import ServerConfig, serve_channel
from tests.sync.postgres import postgres_cluster, postgres_url  # noqa: F401 -- fixtures for test_postgres

DEVICE = "A-12"


def proof_key(i: int) -> PinProof:
    """Inmate i's proof key of their PIN (a fixed seed here: these inmates' PINs are never typed)."""
    return PinProof(i.to_bytes(32, "big"))


def inmate(i: int, **changes: object) -> dict[str, object]:
    """An inmate value as the rules' schema wants it (firmware/rules/datasets.py)."""
    return {
        "pin_verifier": f"k1:{i:064x}",
        "pin_proof_key": proof_key(i).public_key,
        "name": f"Inmate {i}",
        "language": "en",
        **changes,
    }


def request_signed(
    purchases: Purchases,
    db: sqlite3.Connection,
    account: str,
    amount: int,
    meta: dict[str, str] | None = None,
    device: str = DEVICE,
) -> str:
    """A device's queued purchase with its inmate's proof of PIN (see `signed`); returns its key."""
    body = signed(Purchase(key=new_id(), account=account, amount_cents=amount, meta=meta or {}), device)
    return purchases.request(db, account, amount, meta=body.meta, key=body.key)


def charge_proof(call_id: str, account: str, device: str = DEVICE, proof: PinProof | None = None) -> dict[str, str]:
    """What a call's ledger charge carries: the inmate who placed it and the proof of PIN their handset made when
    the call opened, with `proof`, else with that of the inmate whose debit account it names (Inn, `proof_key`)."""
    inmate_id = account.removeprefix("debit:")
    if proof is None:
        proof = proof_key(int(inmate_id[1:]))
    return {"inmate_id": inmate_id, "proof": proof.sign(call_message(device, call_id, inmate_id, account))}


def signed_charge(entry: dict[str, Any], device: str = DEVICE, proof: PinProof | None = None) -> dict[str, Any]:
    """A ledger charge as an honest handset sends it (`charge_proof`)."""
    return {**entry, **charge_proof(str(entry["call_id"]), str(entry["account"]), device, proof)}


def signed(purchase: Purchase, device: str = DEVICE, proof: PinProof | None = None) -> Purchase:
    """The purchase with its inmate's proof of PIN, as an honest kiosk sends it: `proof`, else inmate Inn's own
    (`proof_key`); a fee that is not digits is signed as 0 (central refuses it before it looks at the proof)."""
    inmate_id = purchase.account.removeprefix("debit:")
    fee = purchase.meta.get("fee_cents", "0")
    fee_cents = int(fee) if fee.isascii() and fee.isdigit() else 0
    message = purchase_message(device, purchase.key, inmate_id, purchase.amount_cents, fee_cents)
    if proof is None and inmate_id[1:].isdigit():
        proof = proof_key(int(inmate_id[1:]))
    return purchase.model_copy(update={"meta": {**purchase.meta, META: proof.sign(message) if proof else ""}})


def facility_rules() -> dict:
    """The facility's rules document as the central server sends it: the shipped demo rules."""
    from firmware.rules.facility import load_rules

    return load_rules(None).model_dump(mode="json")


def write_facility(directory: Path, inmates: int = 20, balance: int = 1000) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "inmates.jsonl").open("w") as out:
        for i in range(inmates):
            out.write(json.dumps({"key": f"I{i:05d}", "value": inmate(i)}) + "\n")
    with (directory / "accounts.jsonl").open("w") as out:
        for i in range(inmates):
            out.write(json.dumps({"key": f"debit:I{i:05d}", "value": {"balance_cents": balance}}) + "\n")
    with (directory / "rules.jsonl").open("w") as out:
        out.write(json.dumps({"key": "facility", "value": facility_rules()}) + "\n")
    return directory


@dataclass
class World:
    tmp: Path
    db_path: Path
    key: bytes

    def central(self) -> CentralDB:
        return CentralDB(self.db_path)

    def store(self, name: str = "device") -> Store:
        return Store(self.tmp / f"{name}.sqlite")

    def config(self) -> ServerConfig:
        return ServerConfig(self.db_path, idle_timeout=5.0)


def make_world(tmp_path: Path, set_trust: Callable[[CentralDB, str, int], None]) -> World:
    """An enrolled device, the example facility and 20 inmates with $50 each in the ledger `set_trust` fills."""
    key = os.urandom(32)
    db = CentralDB(tmp_path / "central.sqlite")
    db.enroll(DEVICE, key)
    db.load_dir(write_facility(tmp_path / "facility"))
    for i in range(20):
        set_trust(db, f"I{i:05d}", 5000)
    db.close()
    return World(tmp_path, tmp_path / "central.sqlite", key)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path, CentralDB.set_trust)


class CuttingChannel:
    """Wraps a channel and cuts the link once `cut_after` messages have been sent through it."""

    def __init__(self, inner: Channel, cut_after: int) -> None:
        self.inner = inner
        self.left = cut_after
        self.bytes_written = self.bytes_read = 0

    def send(self, data: bytes) -> None:
        if self.left <= 0:
            self.inner.close()
            raise ChannelClosed("cut by the test")
        self.left -= 1
        self.inner.send(data)

    def recv(self, timeout: float) -> bytes:
        return self.inner.recv(timeout)

    def close(self) -> None:
        self.inner.close()


def channel_pair() -> tuple[StreamChannel, StreamChannel]:
    """Two ends of a loopback TCP connection (no TLS: these tests are about the session)."""
    listener = TcpListener("tcp://127.0.0.1:0")
    device = open_link(f"tcp://127.0.0.1:{listener.port}")
    server = listener.accept(timeout=5)
    listener.close()
    assert server is not None
    return StreamChannel(device), StreamChannel(server)


def purchase_status(purchases: Purchases, key: str) -> PurchaseStatus:
    """The status of a purchase the test requested (so it is known)."""
    status = purchases.status(key)
    assert status is not None, f"purchase {key} is not known"
    return status


def run_session(
    world: World,
    store: Store,
    server_cut_after: int | None = None,
    device_id: str = DEVICE,
    key: bytes | None = None,
    verify: bool = False,
    **device_options: object,
) -> SyncReport:
    """One session with the world's central server; raises what the device raises."""
    return session_with(
        world.config(), store, device_id, key or world.key, server_cut_after, verify=verify, **device_options
    )


def session_with(
    config: ServerConfig,
    store: Store,
    device_id: str,
    key: bytes,
    server_cut_after: int | None = None,
    verify: bool = False,
    **device_options: object,
) -> SyncReport:
    """One session over an in-process socket pair, the server (`config`, any database) on a thread."""
    device_side, server_side = channel_pair()
    server_channel: Channel = server_side if server_cut_after is None else CuttingChannel(server_side, server_cut_after)
    thread = threading.Thread(target=serve_channel, args=(server_channel, config), daemon=True)
    thread.start()
    try:
        return DeviceSync(store, device_id, key, timeout=5.0, **device_options).run(  # type: ignore[arg-type]
            device_side, verify=verify
        )
    finally:
        device_side.close()
        thread.join(timeout=10)
        server_side.close()


def agreed_with_postgres(url: str, tmp: Path, device: str, key: bytes, store: Store) -> bool:
    """One session with a central server on the PostgreSQL database `url`: did both sides agree?"""
    return session_with(ServerConfig(url, 5.0, blob_root=tmp / "blobs"), store, device, key).agree


@pytest.fixture
def sessions(world: World) -> Iterator[World]:
    yield world
