"""The central server's money: trust balances, kiosk purchases (trust to phone debit, once per key) and holds
on phone balances, each decided under the facility's lock. A part of `CentralDB` (sim/central/db.py)."""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from firmware.store import canonical
from firmware.store.outbox import utc_now
from firmware.sync.schema import Purchase, PurchaseResult
from sim.central.backend import Connection


class _Central(Protocol):
    """What the money book uses of the database it is part of."""

    facility: str
    db: Connection

    def transaction(self) -> AbstractContextManager[Connection]: ...
    def _facility_row(self, db: Connection, lock: bool = False) -> tuple[int, str, int]: ...
    def _account(self, db: Connection, account: str) -> dict[str, Any] | None: ...
    def _write(self, db: Connection, dataset: str, key: str, text: str | None) -> None: ...
    def purchase_result(self, key: str) -> PurchaseResult: ...


class MoneyBook:
    """Trust, purchases and holds of one facility."""

    def set_trust(self: _Central, account: str, cents: int) -> None:
        """The inmate's trust (commissary) balance: kept on the server only, never sent to devices."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO trust (facility, account, cents) VALUES (?, ?, ?) ON CONFLICT (facility, account)"
                " DO UPDATE SET cents = excluded.cents",
                (self.facility, account, cents),
            )

    def purchase(self: _Central, device_id: str, purchase: Purchase) -> PurchaseResult:
        """Apply a purchase once per key: trust funds move to the phone debit balance (`accounts`,
        key "debit:<inmate>"), or it is rejected; the same key again gets the first answer."""
        with self.transaction() as db:
            self._facility_row(db, lock=True)
            known = self.purchase_result(purchase.key)
            if known.status != "unknown":
                return known
            debit_key = f"debit:{purchase.account}"
            account = self._account(db, debit_key)
            row = db.execute(
                "SELECT cents FROM trust WHERE facility = ? AND account = ?", (self.facility, purchase.account)
            ).fetchone()
            reason = ""
            if purchase.amount_cents <= 0:
                reason = "amount_not_positive"
            elif account is None or row is None:
                reason = "unknown_account"
            elif int(row[0]) < purchase.amount_cents:
                reason = "insufficient_funds"
            balance = None
            if reason == "" and account is not None:
                db.execute(
                    "UPDATE trust SET cents = cents - ? WHERE facility = ? AND account = ?",
                    (purchase.amount_cents, self.facility, purchase.account),
                )
                account["balance_cents"] = int(account.get("balance_cents", 0)) + purchase.amount_cents
                balance = account["balance_cents"]
                self._write(db, "accounts", debit_key, canonical(account))
            status: Literal["applied", "rejected"] = "rejected" if reason else "applied"
            db.execute(
                "INSERT INTO purchases (key, facility, device_id, account, amount_cents, product, status,"
                " reason, balance_cents, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    purchase.key,
                    self.facility,
                    device_id,
                    purchase.account,
                    purchase.amount_cents,
                    purchase.product,
                    status,
                    reason,
                    balance,
                    utc_now(),
                ),
            )
        return PurchaseResult(key=purchase.key, status=status, reason=reason, balance_cents=balance)

    def purchase_result(self: _Central, key: str) -> PurchaseResult:
        row = self.db.execute(
            "SELECT status, reason, balance_cents FROM purchases WHERE key = ? AND facility = ?", (key, self.facility)
        ).fetchone()
        if row is None:
            return PurchaseResult(key=key, status="unknown", reason="no purchase with this key")
        return PurchaseResult(key=key, status=row[0], reason=row[1], balance_cents=row[2])

    def reserve(
        self: _Central, device_id: str, account: str, wanted: int, ttl_s: int = 0, at: datetime | None = None
    ) -> tuple[str, int]:
        """Hold part of a balance for one device: a sync's offline reservation (ttl_s 0) or a call's hold, which
        lapses ttl_s after `at`. The grant replaces the device's previous hold on the account, and is decided
        under the facility's lock, so all unexpired holds together never exceed the balance: two devices asking
        at once cannot both be granted the same money."""
        at = at or datetime.now(UTC)
        stamp = at.isoformat(timespec="milliseconds")
        expires = (at + timedelta(seconds=ttl_s)).isoformat(timespec="milliseconds") if ttl_s else ""
        with self.transaction() as db:
            self._facility_row(db, lock=True)
            value = self._account(db, account) or {}
            balance = int(value.get("balance_cents", 0))
            others = db.execute(
                "SELECT coalesce(sum(held_cents), 0) FROM reservations WHERE facility = ?"
                " AND account = ? AND device_id != ? AND (expires_at = '' OR expires_at > ?)",
                (self.facility, account, device_id, stamp),
            ).fetchone()[0]
            granted = max(0, min(wanted, balance - int(others)))
            reservation_id = uuid.uuid4().hex
            db.execute(
                "INSERT INTO reservations (device_id, account, facility, reservation_id, held_cents, at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device_id, account) DO UPDATE SET"
                " facility = excluded.facility, reservation_id = excluded.reservation_id,"
                " held_cents = excluded.held_cents, at = excluded.at, expires_at = excluded.expires_at",
                (device_id, account, self.facility, reservation_id, granted, stamp, expires),
            )
        return reservation_id, granted
