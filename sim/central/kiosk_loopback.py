"""A reference central server on loopback TLS with kiosk accounts, for end-to-end tests and the benchmark."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from firmware.rules.identity import SIMULATION_COST, pin_key_value
from firmware.sync.credentials import SERVER_NAME, Authority, Credentials
from sim.central.db import CENTRAL_FILE, CentralDB
from sim.central.kiosk_sync import SyncBook, ledger, set_trust
from sim.central.server import CentralServer, ServerConfig
from sim.kiosk_world import SIM_PIN_KEY, SimInmate, roster_entry


class LoopbackCentral:
    def __init__(self, directory: Path) -> None:
        self.db_path = directory / CENTRAL_FILE
        self.db = CentralDB(self.db_path)
        self.authority = Authority.create()
        self.db.set_authority(
            json.dumps(asdict(self.authority)), json.dumps(asdict(self.authority.issue(SERVER_NAME, True)))
        )
        self.server = CentralServer(ServerConfig(self.db_path), self.authority.issue(SERVER_NAME, True))

    def enroll(self, device_id: str) -> Credentials:
        key = os.urandom(32)
        self.db.enroll(device_id, key)
        return self.authority.issue(device_id, False, key)

    def account(self, inmate: SimInmate) -> None:
        """The inmate's balances, and their roster entry under the simulator's PIN key (which a kiosk syncs and
        checks the PIN against; the server checks the kiosk's proofs against the entry's `pin_proof_key`)."""
        verifier, public_key = roster_entry(inmate)
        key_id, secret = SIM_PIN_KEY
        self.db.put("pin_keys", key_id, pin_key_value(secret, SIMULATION_COST))
        self.db.put("inmates", inmate.id, {"pin_verifier": verifier, "pin_proof_key": public_key, "name": inmate.id})
        set_trust(self.db, inmate.id, inmate.trust_cents)
        with self.db.transaction() as tx:
            SyncBook(self.db).write(tx, inmate.id, inmate.trust_cents, inmate.phone_cents)

    def balances(self, inmate_id: str) -> tuple[int, int]:
        return ledger(self.db).balances(inmate_id)

    def start_tcp(self) -> str:
        url = "tcp://127.0.0.1:0"
        self.server.start([url])
        return f"tcp://127.0.0.1:{self.server.ports[url]}"

    def start_serial(self, url: str, baudrate: int = 115200) -> None:
        self.server.baudrate = baudrate
        self.server.start([url])

    def close(self) -> None:
        self.server.stop.set()
        self.db.close()
