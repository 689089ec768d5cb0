"""The kiosk's own book of purchases: each one committed with its idempotency key before it is sent.

A purchase is `sending` until the central server's answer is known, then final (applied, declined,
not_sent) and never changed again. After a crash, the open ones are exactly those whose fate must be asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from firmware.kiosk.messages import FINAL_STATUSES, SubmitPurchase
from firmware.store import Store
from firmware.store.outbox import utc_now


@dataclass(frozen=True)
class LedgerEntry:
    key: str
    inmate_id: str
    amount_cents: int
    fee_cents: int
    status: str
    reason: str
    proof: str = field(default="", repr=False)


class KioskLedger:
    def __init__(self, store: Store) -> None:
        self.store = store

    def open(self, purchase: SubmitPurchase, proof: str = "") -> None:
        """Commit the purchase as `sending`, with the inmate's proof of PIN for it (sent again with it when central
        never received it, after a restart too); a key seen before is an error, never a second purchase."""
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO kiosk_purchases (key, inmate_id, amount_cents, fee_cents, created_at, proof)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (purchase.key, purchase.inmate_id, purchase.amount_cents, purchase.fee_cents, utc_now(), proof),
            )

    def settle(
        self,
        key: str,
        status: str,
        reason: str = "",
        trust_cents: int | None = None,
        phone_cents: int | None = None,
        decided_at: str = "",
    ) -> bool:
        """Record the final outcome once; False if it was already settled (a duplicate answer)."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"purchase {key}: {status!r} is not a final status")
        with self.store.transaction() as db:
            cursor = db.execute(
                "UPDATE kiosk_purchases SET status = ?, reason = ?, trust_cents = ?, phone_cents = ?,"
                " decided_at = ?, settled_at = ? WHERE key = ? AND status = 'sending'",
                (status, reason, trust_cents, phone_cents, decided_at, utc_now(), key),
            )
            return cursor.rowcount == 1

    def open_keys(self) -> list[str]:
        rows = self.store.db.execute("SELECT key FROM kiosk_purchases WHERE status = 'sending' ORDER BY created_at")
        return [row[0] for row in rows]

    def entry(self, key: str) -> LedgerEntry | None:
        row = self.store.db.execute(
            "SELECT key, inmate_id, amount_cents, fee_cents, status, reason, proof FROM kiosk_purchases WHERE key = ?",
            (key,),
        ).fetchone()
        return None if row is None else LedgerEntry(*row)

    def entries(self) -> list[LedgerEntry]:
        rows = self.store.db.execute(
            "SELECT key, inmate_id, amount_cents, fee_cents, status, reason, proof FROM kiosk_purchases"
            " ORDER BY created_at"
        )
        return [LedgerEntry(*row) for row in rows]
