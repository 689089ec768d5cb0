"""Kiosk purchases: made durable with their idempotency key first, sent until the server answers, applied once.

The kiosk calls `Purchases.request` inside its own transaction (the key is made before anything is sent);
every sync session sends each purchase still without a final answer, and the server applies a key at most
once, answering the same result every time it sees that key again. `status` is what the kiosk shows.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Literal

from firmware.ids import new_id
from firmware.store import Store
from firmware.store.outbox import utc_now
from firmware.sync.schema import Purchase, PurchaseResult

Status = Literal["unsent", "unknown", "applied", "rejected"]


@dataclass(frozen=True)
class PurchaseStatus:
    key: str
    account: str
    amount_cents: int
    status: Status
    reason: str
    balance_cents: int | None


class Purchases:
    def __init__(self, store: Store) -> None:
        self.store = store

    def request(
        self,
        db: sqlite3.Connection,
        account: str,
        amount_cents: int,
        product: str = "debit_minutes",
        meta: dict[str, str] | None = None,
        key: str | None = None,
    ) -> str:
        """Record a purchase request inside the caller's transaction; returns its idempotency key (a new one
        unless given: a proof of PIN in `meta` names the key it signs)."""
        key = key or new_id()
        db.execute(
            "INSERT INTO sync_purchases (key, account, amount_cents, product, meta, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (key, account, amount_cents, product, json.dumps(meta or {}, sort_keys=True), utc_now()),
        )
        return key

    def status(self, key: str) -> PurchaseStatus | None:
        row = self.store.db.execute(
            "SELECT key, account, amount_cents, status, reason, balance_cents FROM sync_purchases WHERE key = ?",
            (key,),
        ).fetchone()
        return None if row is None else PurchaseStatus(*row)

    def unanswered(self) -> list[Purchase]:
        """Purchases never sent, or sent without a final answer: each is sent (again) under its own key."""
        rows = self.store.db.execute(
            "SELECT key, account, amount_cents, product, created_at, meta FROM sync_purchases"
            " WHERE status IN ('unsent', 'unknown') ORDER BY created_at, key"
        )
        return [
            Purchase(key=r[0], account=r[1], amount_cents=r[2], product=r[3], created_at=r[4], meta=json.loads(r[5]))
            for r in rows
        ]

    def mark_sent(self, key: str) -> None:
        with self.store.transaction() as db:
            db.execute("UPDATE sync_purchases SET status = 'unknown' WHERE key = ? AND status = 'unsent'", (key,))

    def record(self, result: PurchaseResult) -> None:
        if result.status == "unknown":
            return
        with self.store.transaction() as db:
            db.execute(
                "UPDATE sync_purchases SET status = ?, reason = ?, balance_cents = ?, answered_at = ? WHERE key = ?",
                (result.status, result.reason, result.balance_cents, utc_now(), result.key),
            )
