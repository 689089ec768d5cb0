"""The central account lock on PostgreSQL: per facility, like every other row (a throwaway cluster)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from firmware.rules.pin_lockouts import account_lock_key
from firmware.store import Store
from firmware.store.outbox import Outbox
from sim.central.db import CentralDB
from tests.security.test_pin_attacks import write_unit
from tests.sync.conftest import agreed_with_postgres

pytestmark = pytest.mark.hardware


def test_failures_from_two_devices_lock_the_account_in_their_facility_only(postgres_url: str, tmp_path: Path) -> None:
    north, south = CentralDB(postgres_url, "north"), CentralDB(postgres_url, "south")
    north.load_dir(write_unit(tmp_path / "north"))
    south.load_dir(write_unit(tmp_path / "south"))  # the same inmate ids in another facility
    keys = {"n-1": os.urandom(32), "n-2": os.urandom(32)}
    for device, key in keys.items():
        north.enroll(device, key)
    now = datetime.now(UTC).isoformat()
    for device, count in (("n-1", 2), ("n-2", 1)):
        store = Store(tmp_path / f"{device}.sqlite")
        for _ in range(count):
            Outbox(store).append("pin_failure", {"at": now, "inmate_id": "I100001"})
        assert agreed_with_postgres(postgres_url, tmp_path, device, keys[device], store)
    lock = north.get("keys", account_lock_key("I100001"))
    assert lock is not None and lock["until"] > now
    assert south.get("keys", account_lock_key("I100001")) is None
    assert north.full_digest() == north.digest()[1]
    north.close()
    south.close()
