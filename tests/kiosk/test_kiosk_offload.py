"""A kiosk run in real time: a store commit that blocks never holds up the screen's answer to the next key.

The kiosk and technician mode commit a PIN try, a session record, an audit entry on the runtime's worker; the
runtime's own thread goes on turning keys into screens. Nothing is answered before it is committed: the login
screen comes only once the blocked commit finishes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from firmware.device import Assembly, Platform, build, sim_devices
from firmware.kiosk.login import RulesLogin
from firmware.kiosk.messages import LoginResult
from firmware.kiosk.policy import PurchaseRules
from firmware.runtime import Record
from firmware.store import Store
from firmware.tech.audit import AuditLog
from hal.clock import MonotonicClock
from sim.central.purchases import CentralPurchases
from sim.kiosk_service import SimPurchaseService
from sim.kiosk_world import KioskWorld, proof_keys, seed_roster
from tests.kiosk.helpers import ALICE, kiosk_config, press
from tests.waiting import wait_for

pytestmark = pytest.mark.timeout(60)
#: How long a blocked commit is held: far longer than a key's screen may take to appear.
HELD_S = 5.0


class RealTimeKiosk:
    """A kiosk assembled as `ringfence run` assembles it (sync aside), its runtime on a thread of its own."""

    def __init__(self, tmp: Path) -> None:
        import sqlite3

        config = kiosk_config(tmp)
        self.clock = MonotonicClock()
        self.store = Store(tmp / "kiosk.sqlite")
        seed_roster(self.store, [ALICE])
        central = CentralPurchases(
            sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False), PurchaseRules()
        )
        central.set_account(ALICE.id, ALICE.trust_cents, ALICE.phone_cents, ALICE.restricted_until)
        self.assembly: Assembly = build(
            config,
            self.clock,
            sim_devices(config, self.clock),
            Platform(
                wall=KioskWorld.wall,
                store=self.store,
                purchase_service=SimPurchaseService(central, proof_keys([ALICE])),
                sync=False,  # no central server here
            ),
        )
        self.runtime = self.assembly.runtime
        self.records: list[Record] = []
        self._lock = threading.Lock()
        self.runtime.observe(self._keep)
        self._stop = threading.Event()
        self._loop = threading.Thread(target=self.runtime.run_realtime, args=(self._stop, 0.01), daemon=True)

    def _keep(self, record: Record) -> None:
        with self._lock:
            self.records.append(record)

    def start(self) -> None:
        self._loop.start()
        self.assembly.start()

    def press(self, keys: str) -> None:
        press(self.runtime, self.clock, keys)

    def screens(self) -> list[list[str]]:
        with self._lock:
            return [r["lines"] for r in self.records if r["event"] == "screen"]

    def wait_for(self, what: str, check: Callable[[], bool], limit_s: float = 5.0) -> float:
        return wait_for(check, limit_s, what)

    def close(self) -> None:
        self._stop.set()
        self._loop.join(10)
        self.assembly.close()
        self.store.close()


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[RealTimeKiosk]:
    made = RealTimeKiosk(tmp_path)
    yield made
    made.close()


def hold(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> tuple[threading.Event, threading.Event]:
    """Make `owner.name` block until released; returns (entered, release)."""
    entered, release = threading.Event(), threading.Event()
    real = getattr(owner, name)

    def held(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        release.wait(HELD_S)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, held)
    return entered, release


def test_a_blocked_pin_commit_does_not_hold_up_the_next_keys_screen(
    kiosk: RealTimeKiosk, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = hold(monkeypatch, RulesLogin, "check")
    kiosk.start()
    kiosk.wait_for("the idle screen", lambda: bool(kiosk.screens()))
    kiosk.press(ALICE.pin + "#")
    kiosk.wait_for("the PIN check to start", entered.is_set)
    before = len(kiosk.screens())
    kiosk.press("5")  # while the PIN try is being committed
    kiosk.wait_for("the screen's answer to the key", lambda: len(kiosk.screens()) > before, limit_s=HELD_S / 2)
    assert not release.is_set()
    assert not any(r["event"] == LoginResult.kind for r in kiosk.records), "nothing answered before its commit"
    release.set()
    kiosk.wait_for("the login", lambda: any(r["event"] == LoginResult.kind for r in kiosk.records))


def test_a_blocked_session_record_does_not_hold_up_the_menu(
    kiosk: RealTimeKiosk, monkeypatch: pytest.MonkeyPatch
) -> None:
    from firmware.store.outbox import Outbox

    entered, release = hold(monkeypatch, Outbox, "append")
    kiosk.start()
    kiosk.wait_for("the idle screen", lambda: bool(kiosk.screens()))
    kiosk.press(ALICE.pin + "#")
    kiosk.wait_for("the login's session record to be committing", entered.is_set)
    kiosk.wait_for("the menu", lambda: kiosk.screens()[-1][0] == "1 Balances", limit_s=HELD_S / 2)
    before = len(kiosk.screens())
    kiosk.press("1")
    kiosk.wait_for("the balances", lambda: len(kiosk.screens()) > before, limit_s=HELD_S / 2)
    assert kiosk.screens()[-1][0].startswith("Trust:") and not release.is_set()
    release.set()


def test_a_blocked_technician_audit_entry_does_not_hold_up_the_keypad(
    kiosk: RealTimeKiosk, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = hold(monkeypatch, AuditLog, "record")
    kiosk.start()
    kiosk.wait_for("the idle screen", lambda: bool(kiosk.screens()))
    kiosk.press("*#*#")  # technician mode's entry sequence: with no code set here, a wrong code is audited
    kiosk.press("123456#")
    kiosk.wait_for("the audit entry to be committing", entered.is_set)
    before = len(kiosk.records)
    kiosk.press("7")
    kiosk.wait_for(
        "the next key handled",
        lambda: any(r["event"] == "key_down" for r in kiosk.records[before:]),
        limit_s=HELD_S / 2,
    )
    assert not release.is_set()
    release.set()
