"""The kiosk against the reference central server over the real sync protocol (loopback TLS)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from firmware.cli import main
from firmware.kiosk.client import PurchaseClient
from firmware.kiosk.ledger import KioskLedger
from firmware.kiosk.messages import PurchaseUpdate, SubmitPurchase
from firmware.kiosk.sync_service import SyncPurchaseService
from firmware.store import Store
from firmware.store.cache import CentralCache
from firmware.sync.connect import connect
from firmware.sync.credentials import Credentials
from firmware.sync.device_session import DeviceSync
from hal.events import Event
from sim.central.kiosk_loopback import LoopbackCentral
from sim.kiosk_world import logged_in
from sim.tcp_proxy import TcpFaultProxy
from tests.kiosk.helpers import ALICE, login, make_world

pytestmark = pytest.mark.hardware


@pytest.fixture
def central(tmp_path: Path) -> Iterator[LoopbackCentral]:
    server = LoopbackCentral(tmp_path)
    server.account(ALICE)
    yield server
    server.close()


def handset_balance(url: str, creds: Credentials, store_path: Path) -> object:
    """A handset's sync: what its cache holds for the inmate's debit account afterwards."""
    store = Store(store_path)
    try:
        channel = connect(url, creds)
        try:
            report = DeviceSync(store, creds.name, creds.sync_key).run(channel, send_blobs=False)
        finally:
            channel.close()
        assert report.agree, report.notes
        return CentralCache(store).get("accounts", "debit:" + ALICE.id)
    finally:
        store.close()


def test_a_purchase_over_tls_applies_once_and_reaches_the_handsets(central: LoopbackCentral, tmp_path: Path) -> None:
    url = central.start_tcp()
    service = SyncPurchaseService(url, central.enroll("kiosk-7"), "kiosk-7", timeout=5)
    world = make_world(tmp_path / "kiosk", inmates=(ALICE,), service=service)
    try:
        login(world)
        assert world.screen[0] == "1 Balances"
        world.keys("1")
        assert world.screen[:2] == ["Trust: $45.50", "Phone: $3.00"]
        world.keys("#22#")
        world.run_for(1)
        assert world.screen == ["Purchase done", "Bought $10.00", "Phone: $13.00", "# Menu  * Log out"]
    finally:
        service.close()
        world.close()
    assert central.balances(ALICE.id) == (3550, 1300)
    handset = central.enroll("handset-1")
    assert handset_balance(url, handset, tmp_path / "handset.sqlite") == {"balance_cents": 1300}
    sale = ["central", "canteen-sale", "--db", str(central.db_path), "--staff", "S9", "--key", "canteen-0001"]
    result = CliRunner().invoke(main, [*sale, ALICE.id, "5"])
    assert result.exit_code == 0, result.output
    assert "sold $5.00; phone $18.00, trust $30.50" in result.output
    again = CliRunner().invoke(main, [*sale, ALICE.id, "5"])  # the same key again sells nothing more
    assert again.exit_code == 0 and central.balances(ALICE.id) == (3050, 1800)
    assert handset_balance(url, handset, tmp_path / "handset.sqlite") == {"balance_cents": 1800}
    audit = CliRunner().invoke(main, ["central", "kiosk-audit", "--db", str(central.db_path)])
    assert "staff:S9" in audit.output and "inmate:A1001" in audit.output and "kiosk-7" in audit.output


def test_link_cut_after_sending_over_tls_is_asked_and_applied_once(central: LoopbackCentral, tmp_path: Path) -> None:
    url = central.start_tcp()
    proxy = TcpFaultProxy(int(url.rsplit(":", 1)[1]))
    service = SyncPurchaseService(f"tcp://127.0.0.1:{proxy.port}", central.enroll("kiosk-7"), "kiosk-7", timeout=5)
    world = make_world(tmp_path / "kiosk", inmates=(ALICE,), service=service)
    try:
        login(world)
        world.keys("22")
        proxy.cut_next_reply()
        world.keys("#")
        world.run_for(1)
        statuses = [r["status"] for r in world.of("purchase_update")]
        assert statuses == ["link_lost", "applied"]
        assert world.screen[0] == "Purchase done"
    finally:
        service.close()
        world.close()
        proxy.close()
    assert central.balances(ALICE.id) == (3550, 1300)


def test_central_down_says_unreachable_and_sells_nothing(central: LoopbackCentral, tmp_path: Path) -> None:
    service = SyncPurchaseService("tcp://127.0.0.1:9", central.enroll("kiosk-7"), "kiosk-7", timeout=2)
    world = make_world(tmp_path / "kiosk", inmates=(ALICE,), service=service)
    try:
        login(world)
        assert world.screen == ["Central unreachable.", "Buying is not", "possible now.", "# Retry  * Log out"]
    finally:
        world.close()


def test_canteen_sale_refusals_and_bad_amounts_are_clear(central: LoopbackCentral) -> None:
    runner = CliRunner()
    over = runner.invoke(
        main, ["central", "canteen-sale", "--db", str(central.db_path), "--staff", "S9", ALICE.id, "500"]
    )
    assert over.exit_code == 2 and "refused: above_max" in over.output
    bad = runner.invoke(
        main, ["central", "canteen-sale", "--db", str(central.db_path), "--staff", "S9", ALICE.id, "5.5x"]
    )
    assert bad.exit_code == 2 and "amount '5.5x': expected dollars like 10 or 12.50" in bad.output
    assert central.balances(ALICE.id) == (4550, 300)


def test_a_purchase_over_a_115200_baud_serial_cable(central: LoopbackCentral, tmp_path: Path) -> None:
    from sim.serial_cable import SerialCable

    cable = SerialCable(115200)
    central.start_serial(cable.end_a, 115200)
    service = SyncPurchaseService(cable.end_b, central.enroll("kiosk-7"), "kiosk-7", 115200, timeout=10)
    world = make_world(tmp_path / "kiosk", inmates=(ALICE,), service=service)
    try:
        login(world)
        world.keys("21#")
        world.run_for(1)
        assert world.screen[:2] == ["Purchase done", "Bought $5.00"]
    finally:
        service.close()
        world.close()
    assert central.balances(ALICE.id) == (4050, 800)
    assert cable.stats.bytes_a_to_b > 0 and cable.stats.bytes_b_to_a > 0


def test_a_short_key_is_one_clear_line_and_the_next_purchase_still_goes(
    central: LoopbackCentral, tmp_path: Path
) -> None:
    service = SyncPurchaseService(central.start_tcp(), central.enroll("kiosk-7"), "kiosk-7", timeout=5)
    ledger = KioskLedger(Store(tmp_path / "kiosk.sqlite"))
    posted: list[Event] = []
    client = PurchaseClient(
        ledger, service, "kiosk-7", posted.append, lambda job: job(), time.monotonic, logged_in([ALICE])
    )
    ledger.open(SubmitPurchase("old-1", ALICE.id, 500, 0))  # left open in the store by an older build
    try:
        client.settle_open()
        client.submit(SubmitPurchase("k-00001", ALICE.id, 500, 0))
        client.submit(SubmitPurchase("k-000002", ALICE.id, 500, 0))
    finally:
        service.close()
    updates = [e for e in posted if isinstance(e, PurchaseUpdate)]
    assert [(u.key, u.status) for u in updates] == [
        ("old-1", "unreachable"),
        ("k-00001", "not_sent"),
        ("k-000002", "applied"),
    ]
    assert updates[0].reason == "purchase key 'old-1' has 5 characters: a key has 8 to 64"
    assert updates[1].reason == "purchase key 'k-00001' has 7 characters: a key has 8 to 64"
    entries = {e.key: e.status for e in ledger.entries()}
    assert entries == {"old-1": "sending", "k-000002": "applied"}, "the short key is neither committed nor sent"
    assert central.balances(ALICE.id) == (ALICE.trust_cents - 500, ALICE.phone_cents + 500)
