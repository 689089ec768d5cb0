"""Kiosk processes killed (SIGKILL) at random moments while buying over the real sync protocol.

After each kill, `ringfence run --sim` starts on the same store and settles what was left open. Then every
purchase the kiosk committed is final, central applied exactly those the kiosk has as applied, none twice, and
no money appeared or vanished.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firmware.kiosk.ledger import KioskLedger
from firmware.store import Store
from firmware.sync.identity import save_identity
from sim.central.kiosk_loopback import LoopbackCentral
from tests.kiosk.helpers import ALICE
from tests.paths import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.hardware]
TRUST = 1_000_000


def test_killed_buyers_leave_no_double_charge_and_no_lost_purchase(tmp_path: Path) -> None:
    central = LoopbackCentral(tmp_path)
    from firmware.kiosk.policy import PurchaseRules
    from sim.central.kiosk_sync import set_purchase_rules

    set_purchase_rules(central.db, PurchaseRules(daily_limit_cents=TRUST))
    central.account(ALICE.model_copy(update={"trust_cents": TRUST, "phone_cents": 0}))
    url = central.start_tcp()
    creds = central.enroll("kiosk-9")
    creds_path = tmp_path / "kiosk-9.json"
    creds.save(creds_path)
    data = tmp_path / "kiosk"
    data.mkdir()
    store_path = data / "ringfence.sqlite"
    save_identity(Store(store_path), creds)
    config = tmp_path / "kiosk.toml"
    config.write_text(
        f'[device]\nrole = "kiosk"\nid = "kiosk-9"\n[link]\nurl = "{url}"\n[paths]\ndata_dir = "{data}"\n',
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rng = random.Random(7)
    left_open = 0
    try:
        for _ in range(6):
            buyer = subprocess.Popen(
                [sys.executable, "-m", "tests.kiosk.buyer", str(store_path), url, str(creds_path), ALICE.id],
                cwd=ROOT,
                env=env,
            )
            # Killed at a random moment once it buys: starting Python alone takes seconds on a loaded machine.
            bought = len(KioskLedger(Store(store_path)).entries())
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(KioskLedger(Store(store_path)).entries()) == bought:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.2, 1.2))
            buyer.send_signal(signal.SIGKILL)
            buyer.wait()
            left_open += len(KioskLedger(Store(store_path)).open_keys())
            kiosk = subprocess.Popen(
                [sys.executable, "-m", "firmware", "run", "--config", str(config), "--sim"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert kiosk.stdout is not None
            first = kiosk.stdout.readline()  # the kiosk is up once it has shown its idle screen
            first += kiosk.stdout.readline()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and KioskLedger(Store(store_path)).open_keys():
                time.sleep(0.2)
            kiosk.send_signal(signal.SIGTERM)
            _out, err = kiosk.communicate(timeout=20)
            assert '"event": "screen"' in first, err
            assert not KioskLedger(Store(store_path)).open_keys(), "an open purchase was never settled"
        entries = KioskLedger(Store(store_path)).entries()
        applied = {e.key for e in entries if e.status == "applied"}
        central_applied = {
            row[0] for row in central.db.db.execute("SELECT key FROM kiosk_central_purchases WHERE status = 'applied'")
        }
        assert applied == central_applied
        assert len(applied) > 6
        assert left_open >= 1, "no kill landed mid-purchase: the test did not test settling"
        trust, phone = central.balances(ALICE.id)
        assert (trust, phone) == (TRUST - 500 * len(applied), 500 * len(applied))
    finally:
        central.close()
