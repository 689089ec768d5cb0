"""Calls made on the simulated handset reach the reference central server through `ringfence sync` over TLS:
the call records, the charges and the recordings, each once, also after calls made while the server was down.

The device is synced from a facility loaded into the server, the simulator then runs on that same store
(`existing_store`), and the two processes sync again: both sides must agree on every record and balance.
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from firmware.errors import ExitCode
from firmware.rules.facility import load_rules
from firmware.rules.identity import SIMULATION_COST, make_pin_entry, pin_key_value
from firmware.rules.service import CallRules
from firmware.store import Store
from firmware.store.outbox import Outbox
from sim import runner
from sim.central.db import CentralDB
from sim.ports import free_port
from sim.scenario import parse
from sim.tcp_proxy import ProxyFaults, TcpFaultProxy
from sim.world import SIM_PIN_KEY_ID, SIM_PIN_SECRET
from tests.handset.helpers import HOME, dial_steps, of, party, press
from tests.sync.test_two_processes import ROOT, ringfence

pytestmark = pytest.mark.hardware
DEVICE = "A-12"
BALANCE = 5000


def write_facility(directory: Path) -> None:
    """The handset tests' inmate and number, as the central server holds them (PIN verifier and proof key, balance)."""
    verifier, proof = make_pin_entry(SIM_PIN_KEY_ID, SIM_PIN_SECRET, "1234", cost=SIMULATION_COST)
    rows: dict[str, list[tuple[str, dict[str, Any]]]] = {
        "pin_keys": [(SIM_PIN_KEY_ID, pin_key_value(SIM_PIN_SECRET, SIMULATION_COST))],
        "inmates": [
            (
                "A1001",
                {
                    "pin_verifier": verifier,
                    "pin_proof_key": proof.public_key,  # the handset's charges are checked against it
                    "name": "John Doe",
                    "housing_unit": "B",
                },
            )
        ],
        "accounts": [("debit:A1001", {"balance_cents": BALANCE})],
        "numbers": [(HOME, {"line_type": "landline", "collect_billable": True})],
    }
    directory.mkdir(parents=True, exist_ok=True)
    for dataset, values in rows.items():
        (directory / f"{dataset}.jsonl").write_text(
            "".join(json.dumps({"key": key, "value": value}) + "\n" for key, value in values)
        )


class Facility:
    """A reference server (started and stopped at will) and one enrolled device's data directory."""

    def __init__(self, tmp: Path) -> None:
        self.db = tmp / "central.sqlite"
        self.data_dir = tmp / "device"
        self.credentials = tmp / "device.json"
        self.port = free_port()
        self.server: subprocess.Popen[bytes] | None = None
        subprocess.run(
            ringfence("central", "enroll", "--db", str(self.db), "--out", str(self.credentials), DEVICE),
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
        write_facility(tmp / "facility")
        subprocess.run(
            ringfence("central", "load", "--db", str(self.db), str(tmp / "facility")),
            check=True,
            capture_output=True,
            cwd=ROOT,
        )

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    @property
    def store_path(self) -> Path:
        return self.data_dir / "ringfence.sqlite"

    def serve(self) -> None:
        self.server = subprocess.Popen(
            ringfence("central", "serve", "--db", str(self.db), "--link", self.url, "--idle-timeout", "10"),
            cwd=ROOT,
            stderr=subprocess.PIPE,
        )
        line = self.server.stderr.readline().decode() if self.server.stderr else ""
        assert line.startswith("serving"), line

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            self.server.wait(10)
        self.server = None

    def sync(self, url: str | None = None) -> subprocess.CompletedProcess[str]:
        args = ["sync", "--link", url or self.url, "--store", str(self.store_path), "--timeout", "5", "--json"]
        if not self.store_path.exists():
            args += ["--credentials", str(self.credentials)]
        return subprocess.run(ringfence(*args), check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)

    def report(self, url: str | None = None) -> dict[str, Any]:
        result = self.sync(url)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def call(
        self, steps: list[dict[str, Any]], parties: list[dict[str, Any]], until_s: float, **extra: Any
    ) -> list[dict[str, Any]]:
        """Calls on the simulated handset, on the synced store (the scenario's own world is not used)."""
        data = {
            "name": "on the synced store",
            "until_s": until_s,
            "world": {},
            "parties": parties,
            "steps": steps,
            "config": {"device": {"id": DEVICE}},  # the enrolled device: its calls' proofs of PIN name it
            **extra,
        }
        return runner.run(parse(data, "test"), self.data_dir, existing_store=True).records

    def central(self) -> CentralDB:
        return CentralDB(self.db)


@pytest.fixture
def facility(tmp_path: Path) -> Iterator[Facility]:
    made = Facility(tmp_path)
    yield made
    made.stop()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_call_recording_reaches_the_server_once_and_a_cut_upload_resumes(facility: Facility) -> None:
    facility.serve()
    assert facility.report()["agree"]
    talk = {"after_answer_s": 2.0, "do": "talk", "seconds": 60}
    records = facility.call(
        [*dial_steps(), {"at_s": 85.0, "action": "hang_up"}],
        [party(HOME, press(1.0, "1"), talk)],
        until_s=90,
        audio=True,
    )
    cdr = of(records, "cdr")[0]
    assert cdr["recording_ref"] == f"recordings/{cdr['call_id']}.flac"
    recording = facility.data_dir / cdr["recording_ref"]
    size = recording.stat().st_size
    assert size > 200_000, "a minute of both legs: large enough to cut in the middle"

    proxy = TcpFaultProxy(facility.port, ProxyFaults(cut_upstream_at=size // 2))
    try:
        cut = facility.sync(f"tcp://127.0.0.1:{proxy.port}")
    finally:
        proxy.close()
    assert cut.returncode == ExitCode.LINK and "run it again" in cut.stderr
    received = facility.db.with_name("central.sqlite.blobs") / "received" / DEVICE
    partial = received / f"{cdr['call_id']}.flac.part"
    kept = partial.stat().st_size
    assert 0 < kept < size, "the server kept what arrived before the cut"

    resumed = facility.report()
    assert resumed["blobs"] == 1
    arrived = received / f"{cdr['call_id']}.flac"
    assert sha256(arrived) == sha256(recording)
    assert 0 < resumed["blob_bytes"] <= size - kept, "the upload resumed where the server's file ended"
    again = facility.report()
    assert again["blobs"] == 0 and again["blob_bytes"] == 0 and again["pushed"] == 0
    central = facility.central()
    try:
        cdrs = [json.loads(p) for (p,) in central.db.execute("SELECT payload FROM received WHERE kind = 'cdr'")]
    finally:
        central.close()
    assert [c["recording_ref"] for c in cdrs] == [cdr["recording_ref"]]


OFFLINE_BOUND = {"offline": {"max_unsynced_spend_per_account": "0.10"}, "limits": {"min_wait_s": 0}}


def test_calls_go_on_while_the_server_is_down_and_every_record_arrives_once_when_it_returns(facility: Facility) -> None:
    facility.serve()
    assert facility.report()["agree"]
    facility.stop()
    assert facility.sync().returncode != 0, "the server is down"

    second_call_at = 120.0
    steps = [
        *dial_steps(),
        {"at_s": 90.0, "action": "hang_up"},
        *dial_steps(t0=second_call_at),
        {"at_s": second_call_at + 30, "action": "hang_up"},
    ]
    offline = facility.call(steps, [party(HOME, press(1.0, "1"))], until_s=second_call_at + 40, rules=OFFLINE_BOUND)
    first, second = of(offline, "cdr")
    assert first["end_reason"] == "offline_limit" and first["billed_minutes"] == 1, "just inside the bound"
    assert second["end_reason"] == "refuse.offline_limit", "just outside: the cached balance is not spent beyond it"
    charges = of(offline, "charge")
    assert [c["call_id"] for c in charges] == [first["call_id"]]

    store = Store(facility.store_path)
    try:
        pending = {item.id for item in Outbox(store).pending(1000)}
    finally:
        store.close()
    assert len(pending) >= 4, "records, charge and holds wait in the outbox"

    facility.serve()
    report = facility.report()
    assert report["agree"] and report["pushed"] == len(pending)
    assert facility.report()["pushed"] == 0, "a second sync sends nothing again"
    central = facility.central()
    try:
        received = {row[0]: row[1] for row in central.db.execute("SELECT id, count(*) FROM received GROUP BY id")}
        account = central.get("accounts", "debit:A1001")
    finally:
        central.close()
    assert set(received) == pending and set(received.values()) == {1}
    assert account is not None
    assert account["balance_cents"] == BALANCE - charges[0]["cents"]

    store = Store(facility.store_path)
    try:
        rules = CallRules(store, load_rules(facility.data_dir / "rules.toml"), DEVICE, "B")
        assert rules.balance_cents("debit", "A1001") == account["balance_cents"]
        assert rules.records.ledger.unsynced_cents() == 0, "the bound is free again for the next calls"
    finally:
        store.close()
