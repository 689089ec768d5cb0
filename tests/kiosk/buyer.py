"""A kiosk process that does nothing but buy, as fast as it can, until it is killed (for the kill tests).

    python -m tests.kiosk_buyer STORE URL CREDENTIALS INMATE

Each purchase goes the kiosk's own way (sim-free): PurchaseClient commits it to the ledger, sends it over the
sync protocol, asks on a dropped link, settles.
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

from firmware.kiosk.client import PurchaseClient
from firmware.kiosk.ledger import KioskLedger
from firmware.kiosk.messages import SubmitPurchase
from firmware.kiosk.sync_service import SyncPurchaseService
from firmware.store import Store
from firmware.sync.credentials import Credentials
from sim.kiosk_world import logged_in
from tests.kiosk.helpers import ALICE


def main(store_path: str, url: str, credentials: str, inmate: str) -> None:
    creds = Credentials.load(Path(credentials))
    service = SyncPurchaseService(url, creds, creds.name, timeout=5)
    client = PurchaseClient(
        KioskLedger(Store(store_path)),
        service,
        creds.name,
        lambda event: None,
        lambda job: job(),
        time.monotonic,
        logged_in([ALICE]),
    )
    while True:
        client.submit(SubmitPurchase(uuid.uuid4().hex, inmate, 500, 0))


if __name__ == "__main__":
    main(*sys.argv[1:])
