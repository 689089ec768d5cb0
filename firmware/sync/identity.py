"""Where a device keeps its sync identity: in its own store, put there at provisioning."""

from __future__ import annotations

import json
from dataclasses import asdict

from firmware.store import Store
from firmware.sync.credentials import Credentials


class NoIdentity(LookupError):
    pass


def save_identity(store: Store, creds: Credentials) -> None:
    with store.transaction() as db:
        db.execute(
            "INSERT OR REPLACE INTO sync_identity (id, device_id, credentials) VALUES (1, ?, ?)",
            (creds.name, json.dumps(asdict(creds))),
        )


def load_identity(store: Store) -> Credentials:
    row = store.db.execute("SELECT credentials FROM sync_identity WHERE id = 1").fetchone()
    if row is None:
        raise NoIdentity(
            f"store {store.path}: this device has no sync identity yet (provision it, or pass"
            " --credentials FILE made by `ringfence central enroll`)"
        )
    return Credentials(**json.loads(row[0]))
