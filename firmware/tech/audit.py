"""The technicians' audit log: every provision, flash, install, rollback and diagnostic session, on the device.

Each entry is committed to the device's store together with its outbox item (kind "tech.<kind>"), in one
transaction, so an entry is never recorded without being queued for upload, nor uploaded without being kept.
Entries never hold secrets: a detail key that names one is refused before anything is written.
"""

from __future__ import annotations

import json
from typing import Any

from firmware.ids import new_id
from firmware.store import Store, canonical
from firmware.store.outbox import Outbox, utc_now

SECRET_KEYS = {
    "secret",
    "private_key",
    "passphrase",
    "password",
    "code",
    "technician_code",
    "token",
    "psk",
    "device_key",
    "sync_key",
}
SECRET_SUFFIXES = ("_secret", "_password", "_token", "_private_key", "_psk")


class AuditError(ValueError):
    pass


def _check_no_secrets(detail: dict[str, Any], where: str = "") -> None:
    for key, value in detail.items():
        lowered = key.lower()
        if lowered in SECRET_KEYS or lowered.endswith(SECRET_SUFFIXES):
            raise AuditError(f"audit detail {where}{key!r} looks like a secret and is never recorded")
        if isinstance(value, dict):
            _check_no_secrets(value, f"{where}{key}.")


class AuditLog:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.outbox = Outbox(store)

    def record(self, kind: str, detail: dict[str, Any]) -> str:
        _check_no_secrets(detail)
        entry_id = new_id()
        at = utc_now()
        text = canonical(detail)
        with self.store.transaction() as db:
            db.execute("INSERT INTO tech_audit (id, at, kind, detail) VALUES (?, ?, ?, ?)", (entry_id, at, kind, text))
            self.outbox.add(db, f"tech.{kind}", {"audit_id": entry_id, **detail}, created_at=at)
        return entry_id

    def entries(self, kind: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        query = "SELECT id, at, kind, detail FROM tech_audit"
        args: tuple[Any, ...] = ()
        if kind is not None:
            query += " WHERE kind = ?"
            args = (kind,)
        rows = self.store.db.execute(query + " ORDER BY seq DESC LIMIT ?", (*args, limit))
        return [{"id": r[0], "at": r[1], "kind": r[2], **json.loads(r[3])} for r in rows]
