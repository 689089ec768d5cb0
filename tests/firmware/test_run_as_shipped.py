"""A simulated handset and a simulated kiosk, each started by `ringfence run --config` as the shipped unit starts
it (plus --sim and a scenario for the person at the keypad), make a call and a purchase that reach a running
`ringfence central serve` over TLS on their own: nobody types `ringfence sync`.

Each device was enrolled and synced once, as provisioning does; from then on it syncs by itself, at start,
soon after every record and every `sync.interval_s`.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from firmware import config as config_mod
from firmware.rules.identity import SIMULATION_COST, make_pin_entry, pin_key_value
from firmware.store import Store
from firmware.sync.credentials import Credentials
from firmware.sync.identity import save_identity
from sim.ports import free_port
from sim.scenario import parse
from sim.world import SIM_PIN_KEY_ID, SIM_PIN_SECRET, seed, write_rules
from tests import waiting
from tests.handset.helpers import HOME, dial_steps, party, press, scenario
from tests.sync.test_two_processes import ROOT, ringfence

pytestmark = [pytest.mark.slow, pytest.mark.hardware]
INTERVAL_S = 20.0
HANDSET, KIOSK = "A-12", "kiosk-3"
#: At the kiosk: log in, buy minutes, the first preset, confirm, log out. Keys typed while the kiosk still says
#: "Please wait" are not taken, so the menu key comes 3 s after the PIN (a loaded machine answers slowly).
# The person at the kiosk waits for each screen, as a person does: the account question after the PIN took up to
# 3.3 s on a loaded 2-core machine, and keys pressed while the kiosk says "Contacting central" are dropped (by
# design: they would act on a screen the inmate has not seen). Steps are timed, so they leave that room.
BUY_ONE = [
    {"at_s": 2.0, "action": "keys", "keys": "1234#"},
    {"at_s": 12.0, "action": "keys", "keys": "2"},
    {"at_s": 14.0, "action": "keys", "keys": "1"},
    {"at_s": 16.0, "action": "keys", "keys": "#"},
    {"at_s": 24.0, "action": "keys", "keys": "*"},
]


def jsonl(directory: Path, dataset: str, rows: list[tuple[str, dict[str, Any]]]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{dataset}.jsonl").write_text("".join(json.dumps({"key": k, "value": v}) + "\n" for k, v in rows))


class Central:
    """A reference server on an ephemeral loopback port, with one inmate who may call and buy."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.db = tmp / "central.sqlite"
        self.url = f"tcp://127.0.0.1:{free_port()}"
        facility = tmp / "facility"
        # The tests' cheap PIN cost: the full one takes about a second of CPU per try on a loaded machine, and the
        # person at the keypad (BUY_ONE) does not wait for it.
        jsonl(facility, "pin_keys", [(SIM_PIN_KEY_ID, pin_key_value(SIM_PIN_SECRET, SIMULATION_COST))])
        verifier, proof = make_pin_entry(SIM_PIN_KEY_ID, SIM_PIN_SECRET, "1234", cost=SIMULATION_COST)
        jsonl(
            facility,
            "inmates",
            [
                (
                    "A1001",
                    {
                        "pin_verifier": verifier,
                        "pin_proof_key": proof.public_key,  # the kiosk's purchases are checked against it
                        "name": "John Doe",
                        "housing_unit": "B",
                    },
                )
            ],
        )
        jsonl(facility, "accounts", [("debit:A1001", {"balance_cents": 5000})])
        jsonl(facility, "numbers", [(HOME, {"line_type": "landline", "collect_billable": True})])
        self.cli("load", "--db", str(self.db), str(facility))
        self.cli("kiosk-trust", "--db", str(self.db), "A1001", "40")
        self.server: subprocess.Popen[bytes] | None = None

    def serve(self, *serial: str) -> None:
        """Once every device is enrolled (the server's TLS credentials come with the first enrolment); also on
        the serial lines given."""
        links = [arg for link in (self.url, *serial) for arg in ("--link", link)]
        self.server = subprocess.Popen(
            ringfence("central", "serve", "--db", str(self.db), *links, "--idle-timeout", "30"),
            cwd=ROOT,
            stderr=subprocess.PIPE,
        )
        line = self.server.stderr.readline().decode() if self.server.stderr else ""
        assert line.startswith("serving"), line

    def cli(self, *args: str) -> None:
        subprocess.run(ringfence("central", *args), check=True, capture_output=True, cwd=ROOT)

    def device(
        self,
        device_id: str,
        role: str,
        steps: list[dict[str, Any]],
        parties: Sequence[dict[str, Any]] = (),
        link: str | None = None,
    ) -> tuple[Path, Path]:
        """Enrol, and write the device's TOML and its scenario."""
        home = self.tmp / device_id
        home.mkdir()
        creds = home / "credentials.json"
        self.cli("enroll", "--db", str(self.db), "--out", str(creds), device_id)
        config = home / "device.toml"
        config.write_text(
            tomli_w.dumps(
                {
                    "device": {"id": device_id, "role": role, "housing_unit": "B"},
                    "link": {"url": link or self.url},
                    "sync": {"interval_s": INTERVAL_S, "soon_s": 0.5, "timeout_s": 10},
                    # The test runs at any hour of the wall clock: the phones are never off.
                    "paths": {
                        "data_dir": str(home / "var"),
                        "rules": str(write_rules({"schedule": {"off": []}}, home)),
                    },
                }
            )
        )
        scenario = home / "at-the-keypad.toml"
        scenario.write_text(
            tomli_w.dumps({"name": f"a person at {device_id}", "steps": steps, "parties": list(parties)})
        )
        return config, scenario

    def provision(self, config: Path) -> None:
        """The one sync provisioning does: identity into the store, roster and balances from the server."""
        creds = config.with_name("credentials.json")
        url = config_mod.load(config).link.url
        first = subprocess.run(
            ringfence("sync", "--config", str(config), "--credentials", str(creds), "--link", url, "--timeout", "10"),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert first.returncode == 0, first.stderr

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        db = sqlite3.connect(self.db)
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()

    def close(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            self.server.wait(10)


@pytest.fixture
def central(tmp_path: Path) -> Iterator[Central]:
    made = Central(tmp_path)
    yield made
    made.close()


def wait_for(what: str, check: Any, limit_s: float) -> float:
    return waiting.wait_for(check, limit_s, what, poll_s=0.25)  # each check reads the device's event log


def start(config: Path, scenario: Path, out: Path) -> subprocess.Popen[bytes]:
    with out.open("wb") as sink:
        return subprocess.Popen(
            ringfence("run", "--config", str(config), "--sim", "--scenario", str(scenario)),
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.read_text().splitlines() if line.startswith("{")]


def enrolled_handset(tmp_path: Path, settings: dict[str, Any], steps: list[dict[str, Any]]) -> Path:
    """An enrolled handset with open rules: its TOML (`settings` and the paths) and its store, which holds the sync
    identity and what a last good sync of the world of `steps` left. Returns the TOML's path."""
    creds = tmp_path / "credentials.json"
    subprocess.run(
        ringfence("central", "enroll", "--db", str(tmp_path / "central.sqlite"), "--out", str(creds), HANDSET),
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    rules = write_rules({"schedule": {"off": []}, "limits": {"min_wait_s": 0}}, tmp_path)
    config = tmp_path / "device.toml"
    config.write_text(tomli_w.dumps({**settings, "paths": {"data_dir": str(tmp_path / "var"), "rules": str(rules)}}))
    seed(parse(scenario(steps), "test").world, config_mod.load(config))
    store = Store(tmp_path / "var" / "ringfence.sqlite")
    save_identity(store, Credentials.load(creds))
    store.close()
    return config


def test_a_handset_and_a_kiosk_run_as_shipped_reach_the_central_server_on_their_own(
    central: Central, tmp_path: Path
) -> None:
    hang_up_at = 22.0
    handset_config, handset_scenario = central.device(
        HANDSET, "handset", [*dial_steps(), {"at_s": hang_up_at, "action": "hang_up"}], [party(HOME, press(1.0, "1"))]
    )
    kiosk_config, kiosk_scenario = central.device(KIOSK, "kiosk", BUY_ONE)
    central.serve()
    central.provision(handset_config)
    central.provision(kiosk_config)
    handset_out, kiosk_out = tmp_path / "handset.jsonl", tmp_path / "kiosk.jsonl"
    handset = start(handset_config, handset_scenario, handset_out)
    kiosk = start(kiosk_config, kiosk_scenario, kiosk_out)
    try:

        def cdr_arrived() -> bool:
            return bool(central.query(f"SELECT 1 FROM received WHERE device_id = '{HANDSET}' AND kind = 'cdr'"))

        def purchase_applied() -> bool:
            return bool(
                central.query(
                    f"SELECT 1 FROM kiosk_central_purchases WHERE device_id = '{KIOSK}' AND status = 'applied'"
                )
            )

        wait_for("the kiosk's purchase at the central server", purchase_applied, 45)
        after_hang_up = wait_for("the handset's call record at the central server", cdr_arrived, hang_up_at + 30)
    finally:
        for device in (handset, kiosk):
            device.send_signal(signal.SIGTERM)
            device.wait(20)
    handset_lines = handset_out.read_text().splitlines()
    assert handset_lines[0] == (
        f"ringfence: handset {HANDSET} starting: keypad=sim hook=sim audio=sim line=sim;"
        f" sync every {INTERVAL_S:g} s with {central.url} (simulated)"
    )
    assert after_hang_up < hang_up_at + INTERVAL_S, "the record went soon after the call, not at the next interval"
    handset_records = records(handset_out)
    cdr_at = next(i for i, r in enumerate(handset_records) if r["event"] == "cdr")
    assert handset_records[cdr_at]["billed_minutes"] == 1
    assert handset_records[0] == {"t_ms": handset_records[0]["t_ms"], "event": "sync_start", "reason": "start"}
    woken = [r for r in handset_records[cdr_at:] if r["event"] == "sync_start"]
    assert woken[0]["reason"] == "cdr", "the call record woke the sync at once"
    assert all(r["ok"] for r in handset_records if r["event"] == "sync_done")
    kiosk_records = records(kiosk_out)
    assert any(r["event"] == "purchase" and r.get("status") == "applied" for r in kiosk_records)
    assert any(r["event"] == "sync_done" and r["ok"] for r in kiosk_records), "the kiosk syncs on its own too"
    assert central.query(f"SELECT 1 FROM received WHERE device_id = '{KIOSK}' AND kind = 'kiosk_session'"), (
        "the kiosk's session records reached the server by its scheduled sync"
    )


def test_with_the_server_gone_for_good_the_handset_still_calls_and_reports_sync_overdue(tmp_path: Path) -> None:
    """The schedule cannot be met: every session fails, backs off, and the device says it is overdue, while the
    call goes on within the offline bounds on what the last sync left in the store."""
    hang_up_at = 22.0
    steps = [*dial_steps(), {"at_s": hang_up_at, "action": "hang_up"}]
    config = enrolled_handset(
        tmp_path,
        {
            "device": {"id": HANDSET, "role": "handset", "housing_unit": "B"},
            "link": {"url": f"tcp://127.0.0.1:{free_port()}"},  # nobody listens there
            "sync": {"interval_s": 5, "retry_min_s": 1, "retry_max_s": 2, "overdue_s": 4, "timeout_s": 2},
        },
        steps,
    )
    keypad = tmp_path / "at-the-keypad.toml"
    keypad.write_text(
        tomli_w.dumps({"name": "offline call", "steps": steps, "parties": [party(HOME, press(1.0, "1"))]})
    )
    out = tmp_path / "handset.jsonl"
    device = start(config, keypad, out)
    try:
        wait_for("the call record", lambda: any(r["event"] == "cdr" for r in records(out)), hang_up_at + 20)
        time.sleep(1.0)
    finally:
        device.send_signal(signal.SIGTERM)
        device.wait(20)
    seen = records(out)
    cdr = next(r for r in seen if r["event"] == "cdr")
    assert cdr["billed_minutes"] == 1 and cdr["connected_at"], "the call went through offline"
    done = [r for r in seen if r["event"] == "sync_done"]
    assert done and not any(r["ok"] for r in done) and "Connection refused" in done[0]["detail"]
    retries = [r for r in seen if r["event"] == "sync_retry"]
    assert [r["failures"] for r in retries][:3] == [1, 2, 3]
    [overdue] = [r for r in seen if r["event"] == "sync_overdue"]
    assert overdue["since_s"] >= 4


def test_a_kiosk_on_a_serial_line_buys_and_syncs_over_its_one_link(central: Central, tmp_path: Path) -> None:
    """A serial line carries one connection at a time: the purchase and the scheduled sessions take turns, and
    each succeeds on its first try. (The kept purchase session used to stay open through the sync that followed
    the account question: two readers on one port, the server dropping the kept session for the sync's, and the
    purchase written into the dropped one answered only by a status query 10 s later.)"""
    from sim.serial_cable import SerialCable

    cable = SerialCable(115200)
    try:
        config, scenario = central.device(KIOSK, "kiosk", BUY_ONE, link=cable.end_a)
        central.serve(cable.end_b)
        central.provision(config)
        out = tmp_path / "kiosk.jsonl"
        kiosk = start(config, scenario, out)
        try:
            wait_for(
                "the purchase at the central server",
                lambda: central.query(
                    f"SELECT 1 FROM kiosk_central_purchases WHERE device_id = '{KIOSK}' AND status = 'applied'"
                ),
                45,
            )
            time.sleep(3.0)
        finally:
            kiosk.send_signal(signal.SIGTERM)
            kiosk.wait(20)
    finally:
        cable.close()
    seen = records(out)
    assert [r["status"] for r in seen if r["event"] == "purchase_update"] == ["applied"], "answered at once"
    done = [r for r in seen if r["event"] == "sync_done"]
    assert len(done) >= 2 and all(r["ok"] for r in done), done
