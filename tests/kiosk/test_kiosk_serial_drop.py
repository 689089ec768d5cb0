"""A kiosk's purchase over a paced serial cable whose line goes dead mid-purchase: applied exactly once.

The line is cut at the two moments that matter: after the server applied the purchase (its answer is lost on
the wire), and before the request reached the server (the server never saw it). In both the kiosk says the
link was lost, asks on a new session once the line is back, and the money moves once, under the one key.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from firmware.kiosk.client import PurchaseClient
from firmware.kiosk.ledger import KioskLedger
from firmware.kiosk.messages import FetchAccount, PurchaseUpdate, QueryPurchase, SubmitPurchase
from firmware.kiosk.sync_service import SyncPurchaseService
from firmware.store import Store
from hal.events import Event
from sim.central import kiosk_sync
from sim.central.kiosk_loopback import LoopbackCentral
from sim.kiosk_world import logged_in
from sim.serial_cable import SerialCable
from tests.kiosk.helpers import ALICE

pytestmark = [pytest.mark.slow, pytest.mark.hardware, pytest.mark.timeout(120)]
KIOSK = "kiosk-7"
#: How long the kiosk waits for an answer, and how long the line stays dead (longer: the answer cannot arrive).
TIMEOUT_S, CUT_S = 2.0, 3.5


class Line:
    """A central server on one end of a 115200-baud cable, a kiosk's purchase client on the other."""

    def __init__(self, tmp: Path, server_idle_s: float = 60.0, keep_s: float = 30.0) -> None:
        self.central = LoopbackCentral(tmp)
        self.central.server.config = replace(self.central.server.config, idle_timeout=server_idle_s)
        self.central.account(ALICE)
        self.cable = SerialCable(115200)
        self.central.start_serial(self.cable.end_a, 115200)
        self.service = SyncPurchaseService(
            self.cable.end_b, self.central.enroll(KIOSK), KIOSK, 115200, timeout=TIMEOUT_S, keep_s=keep_s
        )
        self.store = Store(tmp / "kiosk.sqlite")
        self.ledger = KioskLedger(self.store)
        self.events: list[Event] = []
        self.client = PurchaseClient(
            self.ledger, self.service, KIOSK, self.events.append, lambda job: job(), time.monotonic, logged_in([ALICE])
        )

    def statuses(self) -> list[str]:
        return [e.status for e in self.events if isinstance(e, PurchaseUpdate)]

    def applied_at_central(self, key: str) -> list[Any]:
        rows = self.central.db.db.execute(
            "SELECT status FROM kiosk_central_purchases WHERE key = ? AND device_id = ?", (key, KIOSK)
        )
        return [row[0] for row in rows]

    def close(self) -> None:
        self.service.close()
        self.store.close()
        self.central.close()
        self.cable.close()


@pytest.fixture
def line(tmp_path: Path) -> Iterator[Line]:
    made = Line(tmp_path)
    yield made
    made.close()


def test_line_dead_after_the_server_applied_the_answer_is_asked_for_not_bought_again(
    line: Line, monkeypatch: pytest.MonkeyPatch
) -> None:
    applied_then_cut = kiosk_sync.answer_purchase

    def answer_into_a_dead_line(*args: Any) -> Any:
        result = applied_then_cut(*args)
        line.cable.cut(CUT_S)  # committed at the server; the answer goes nowhere
        return result

    monkeypatch.setattr(kiosk_sync, "answer_purchase", answer_into_a_dead_line)
    line.client.fetch_account(FetchAccount(ALICE.id))  # the session the purchase will use is open
    line.client.submit(SubmitPurchase("key-after-0001", ALICE.id, 500, 0))
    assert line.statuses() == ["link_lost"], "the kiosk may not claim either outcome while the line is dead"
    assert [e.status for e in line.ledger.entries()] == ["sending"], "committed before it was sent, still open"
    time.sleep(CUT_S)  # the kiosk's machine asks again after query_retry_s; here, once the line is back
    line.client.query(QueryPurchase("key-after-0001"))
    assert line.statuses() == ["link_lost", "applied"]
    assert [(e.key, e.status) for e in line.ledger.entries()] == [("key-after-0001", "applied")]
    assert line.applied_at_central("key-after-0001") == ["applied"]
    assert line.central.balances(ALICE.id) == (ALICE.trust_cents - 500, ALICE.phone_cents + 500), "moved once"


def test_line_dead_before_the_request_arrived_is_sent_again_under_the_same_key(line: Line) -> None:
    line.client.fetch_account(FetchAccount(ALICE.id))  # the session the purchase will use is open
    line.cable.cut(CUT_S)  # the kept session is open; the request goes into a dead line
    line.client.submit(SubmitPurchase("key-before-0001", ALICE.id, 500, 0))
    assert line.statuses() == ["link_lost"]
    assert line.applied_at_central("key-before-0001") == [], "nothing reached the server"
    time.sleep(CUT_S)
    line.client.query(QueryPurchase("key-before-0001"))  # the server says unknown: the same key goes again
    assert line.statuses() == ["link_lost", "applied"]
    assert line.applied_at_central("key-before-0001") == ["applied"]
    assert line.central.balances(ALICE.id) == (ALICE.trust_cents - 500, ALICE.phone_cents + 500)
    line.client.query(QueryPurchase("key-before-0001"))  # asking again changes nothing
    assert line.statuses()[-1] == "applied"
    assert line.central.balances(ALICE.id) == (ALICE.trust_cents - 500, ALICE.phone_cents + 500)


@pytest.mark.parametrize("keep_s", [1.0, 30.0])
def test_a_session_the_server_ended_for_idleness_is_not_written_into(tmp_path: Path, keep_s: float) -> None:
    """The server ends a session idle for 1.5 s and tells the kiosk so on the line (FIN). A kiosk that keeps its
    session 1 s opens a new one for the purchase; one that keeps it 30 s finds the kept one ended and opens a new
    one too: either way the purchase is answered at once and applied once, never left to be asked about."""
    line = Line(tmp_path, server_idle_s=1.5, keep_s=keep_s)
    try:
        line.client.fetch_account(FetchAccount(ALICE.id))
        time.sleep(2.5)  # the inmate reads the balances; the server ends the idle session meanwhile
        line.client.submit(SubmitPurchase("key-idle-0001", ALICE.id, 500, 0))
        assert line.statuses() == ["applied"]
        assert line.applied_at_central("key-idle-0001") == ["applied"]
        assert line.central.balances(ALICE.id) == (ALICE.trust_cents - 500, ALICE.phone_cents + 500)
    finally:
        line.close()
