"""A kiosk assembled as `ringfence run` assembles it, on a paced serial cable to a reference central server.

The line carries one connection at a time. The account question leaves a session open for the purchase that
usually follows; a scheduled sync, and a technician's link test, first make that session let go of the port.
Each then succeeds at its first try, and the purchase after them is answered at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from firmware.device import Assembly, Platform, build, sim_devices
from firmware.kiosk.messages import FetchAccount, SubmitPurchase
from firmware.kiosk.wiring import KioskInstalled
from firmware.runtime import Record
from firmware.store import Store
from firmware.sync.connect import connect
from firmware.sync.conversation import open_as_device
from firmware.sync.identity import save_identity
from firmware.sync.schedule import SyncWanted
from firmware.sync.schema import Welcome
from hal.clock import MonotonicClock
from sim.central.kiosk_loopback import LoopbackCentral
from sim.kiosk_world import KioskWorld
from sim.serial_cable import SerialCable
from tests.kiosk.helpers import ALICE, kiosk_config, press
from tests.waiting import wait_for

pytestmark = [pytest.mark.hardware, pytest.mark.timeout(90)]
KIOSK = "kiosk-7"


class SerialKiosk:
    def __init__(self, tmp: Path) -> None:
        self.central = LoopbackCentral(tmp)
        self.central.account(ALICE)
        self.cable = SerialCable(115200)
        self.central.start_serial(self.cable.end_a, 115200)
        config = kiosk_config(
            tmp / "kiosk",
            device={"id": KIOSK},
            link={"url": self.cable.end_b},
            sync={"interval_s": 3600, "soon_s": 0.1, "timeout_s": 5},
        )
        store = Store(config.paths.store_path)
        self.creds = self.central.enroll(KIOSK)
        save_identity(store, self.creds)
        store.close()
        self.clock = MonotonicClock()
        self.assembly: Assembly = build(
            config, self.clock, sim_devices(config, self.clock), Platform(wall=KioskWorld.wall)
        )
        installed = self.assembly.installed
        assert isinstance(installed, KioskInstalled) and installed.client is not None
        self.client = installed.client
        self.runtime = self.assembly.runtime
        self.records: list[Record] = []
        self.runtime.observe(self.records.append)
        self._stop = threading.Event()
        self._loop = threading.Thread(target=self.runtime.run_realtime, args=(self._stop, 0.01), daemon=True)
        self._loop.start()
        self.assembly.start()

    def press(self, keys: str) -> None:
        press(self.runtime, self.clock, keys)

    def of(self, event: str) -> list[Record]:
        return [r for r in list(self.records) if r["event"] == event]

    def wait_for(self, what: str, check: Callable[[], bool], limit_s: float = 20.0) -> float:
        return wait_for(check, limit_s, what)

    def close(self) -> None:
        self._stop.set()
        self._loop.join(10)
        self.assembly.close()
        self.central.close()
        self.cable.close()


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[SerialKiosk]:
    made = SerialKiosk(tmp_path)
    yield made
    made.close()


def test_a_sync_after_the_account_question_and_the_purchase_after_it_each_go_at_the_first_try(
    kiosk: SerialKiosk,
) -> None:
    kiosk.wait_for("the start-up sync", lambda: bool(kiosk.of("sync_done")))
    kiosk.press(ALICE.pin + "#")  # the roster came with the sync: the login asks for the account
    kiosk.wait_for("the account", lambda: bool(kiosk.of("account")))
    kiosk.wait_for("the sync the login's record wakes", lambda: len(kiosk.of("sync_done")) == 2)
    kiosk.client.fetch_account(FetchAccount(ALICE.id))  # the kept session opens again
    kiosk.wait_for("the account again", lambda: len(kiosk.of("account")) == 2)
    assert all(r["online"] and not r["refused"] for r in kiosk.of("account")), "the account question was answered"
    kiosk.runtime.post(SyncWanted(kiosk.clock.now(), "technician"))  # the kept session is still open here
    kiosk.wait_for("the technician's sync", lambda: len(kiosk.of("sync_done")) == 3)
    kiosk.client.submit(SubmitPurchase("kiosk-7-one-link-0001", ALICE.id, 500, 0))
    kiosk.wait_for("the purchase's answer", lambda: bool(kiosk.of("purchase_update")))
    assert [r["ok"] for r in kiosk.of("sync_done")] == [True, True, True], kiosk.of("sync_done")
    assert [r["status"] for r in kiosk.of("purchase_update")] == ["applied"], "answered at once"
    assert kiosk.central.balances(ALICE.id) == (ALICE.trust_cents - 500, ALICE.phone_cents + 500)


def test_a_technicians_link_test_waits_for_the_kept_session_to_let_go(kiosk: SerialKiosk) -> None:
    """What technician mode's link test does (firmware/tech/checks.py link_check), given to the link's owner."""
    kiosk.wait_for("the start-up sync", lambda: bool(kiosk.of("sync_done")))
    kiosk.press(ALICE.pin + "#")
    kiosk.wait_for("the sync the login's record wakes", lambda: len(kiosk.of("sync_done")) == 2)
    kiosk.client.fetch_account(FetchAccount(ALICE.id))
    kiosk.wait_for("the account", lambda: len(kiosk.of("account")) == 2)
    sync = kiosk.assembly.sync
    assert sync is not None
    handshakes: list[object] = []

    def handshake() -> None:
        channel = connect(kiosk.cable.end_b, kiosk.creds, timeout=5)
        try:
            handshakes.append(open_as_device(channel, KIOSK, kiosk.creds.sync_key, 5, role="kiosk")[1])
        except Exception as exc:  # noqa: BLE001 - the test reports what went wrong
            handshakes.append(exc)
        finally:
            channel.close()

    sync.use_link(handshake)
    kiosk.wait_for("the link test", lambda: bool(handshakes))
    assert isinstance(handshakes[0], Welcome), handshakes
    kiosk.client.submit(SubmitPurchase("kiosk-7-one-link-0002", ALICE.id, 500, 0))
    kiosk.wait_for("the purchase's answer", lambda: bool(kiosk.of("purchase_update")))
    assert [r["status"] for r in kiosk.of("purchase_update")] == ["applied"], "answered at once"
