"""The outbox: everything that must reach the central server, exactly once, in the order it happened.

Each item has an idempotent id made on the device before it is ever sent, so a resend after a lost
acknowledgement is recognised by the server, and nothing leaves the device before it is committed here.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from firmware.ids import new_id
from firmware.store import Store, canonical


@dataclass(frozen=True)
class OutboxItem:
    seq: int
    id: str
    kind: str
    created_at: str
    payload: dict[str, Any]


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Outbox:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, db: sqlite3.Connection, kind: str, payload: dict[str, Any], created_at: str | None = None) -> str:
        """Queue inside the caller's transaction, so the record and its upload commit together."""
        item_id = new_id()
        db.execute(
            "INSERT INTO outbox (id, kind, created_at, payload) VALUES (?, ?, ?, ?)",
            (item_id, kind, created_at or utc_now(), canonical(payload)),
        )
        return item_id

    def append(self, kind: str, payload: dict[str, Any], created_at: str | None = None) -> str:
        with self.store.transaction() as db:
            return self.add(db, kind, payload, created_at)

    def pending(self, limit: int = 100, after_seq: int = 0) -> list[OutboxItem]:
        rows = self.store.db.execute(
            "SELECT seq, id, kind, created_at, payload FROM outbox"
            " WHERE acked_at IS NULL AND delivered_at IS NULL AND seq > ? ORDER BY seq LIMIT ?",
            (after_seq, limit),
        )
        return [OutboxItem(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]

    def acknowledge(self, ids: Iterable[str]) -> None:
        with self.store.transaction() as db:
            self.acknowledge_in(db, ids)

    def acknowledge_in(self, db: sqlite3.Connection, ids: Iterable[str]) -> None:
        """Acknowledge inside the caller's transaction (with the data the acknowledgement makes current): these
        ids and every record already delivered, whose effects that data shows too."""
        now = utc_now()
        db.executemany("UPDATE outbox SET acked_at = ? WHERE id = ? AND acked_at IS NULL", [(now, i) for i in ids])
        db.execute("UPDATE outbox SET acked_at = ? WHERE delivered_at IS NOT NULL AND acked_at IS NULL", (now,))

    def deliver(self, ids: Iterable[str]) -> None:
        """The server holds these (its push_ack said so): never send them again, even if this session breaks.

        Their effects (a charge lowers a balance) count against what the device may spend until `acknowledge_in`
        commits them with data that shows those effects."""
        now = utc_now()
        with self.store.transaction() as db:
            db.executemany(
                "UPDATE outbox SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL", [(now, i) for i in ids]
            )

    def count_pending(self) -> int:
        """Records the server has not acknowledged yet."""
        return int(
            self.store.db.execute(
                "SELECT count(*) FROM outbox WHERE acked_at IS NULL AND delivered_at IS NULL"
            ).fetchone()[0]
        )
