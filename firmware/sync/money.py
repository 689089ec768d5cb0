"""Money on the device: the server's balance is the truth; the device subtracts what it has not yet synced.

A charge is an outbox item of kind "ledger" ({"account", "amount_cents" (negative for a charge),
"reservation_id"}). Until the server acknowledges it, the device subtracts it from the server balance it
caches (dataset "accounts", field "balance_cents"). Offline, a device may spend on an account only what the
server reserved for it: the server never reserves more than the balance across all devices, so two devices
used at once without a link can never spend more than the account holds.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from firmware.store import Store
from firmware.store.cache import CentralCache
from firmware.store.outbox import Outbox

LEDGER_KIND = "ledger"


@dataclass(frozen=True)
class Reservation:
    account: str
    reservation_id: str | None
    granted_cents: int


class Wallet:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.cache = CentralCache(store)
        self.outbox = Outbox(store)

    def server_balance(self, account: str) -> int:
        value = self.cache.get("accounts", account) or {}
        return int(value.get("balance_cents", 0))

    def unsynced(self, account: str) -> int:
        """The sum of charges and credits on this account not yet acknowledged by the server."""
        total = 0
        for (payload,) in self.store.db.execute(
            "SELECT payload FROM outbox WHERE acked_at IS NULL AND kind = ?", (LEDGER_KIND,)
        ):
            entry = json.loads(payload)
            if entry.get("account") == account:
                total += int(entry.get("amount_cents", 0))
        return total

    def balance(self, account: str) -> int:
        """What the device shows: server balance plus unsynced entries (charges are negative)."""
        return self.server_balance(account) + self.unsynced(account)

    def reservation(self, account: str) -> Reservation:
        row = self.store.db.execute(
            "SELECT reservation_id, granted_cents FROM sync_reservations WHERE account = ?", (account,)
        ).fetchone()
        return Reservation(account, None, 0) if row is None else Reservation(account, row[0], int(row[1]))

    def spendable(self, account: str, online: bool) -> int:
        """Online: the shown balance. Offline: no more than this device's reservation minus its unsynced use."""
        shown = self.balance(account)
        if online:
            return max(0, shown)
        reserved = self.reservation(account).granted_cents + self.unsynced(account)
        return max(0, min(shown, reserved))

    def charge(self, db: sqlite3.Connection, account: str, amount_cents: int, **details: object) -> str:
        """Queue a charge (a positive amount) inside the caller's transaction; returns its idempotent id."""
        reservation = self.reservation(account)
        payload = {"account": account, "amount_cents": -amount_cents, "reservation_id": reservation.reservation_id,
                   **details}
        return self.outbox.add(db, LEDGER_KIND, payload)

    def want_reservation(self, account: str, amount_cents: int) -> None:
        """Ask the next sync to reserve this much of the account's balance for offline use on this device."""
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO sync_reservations (account, wanted_cents) VALUES (?, ?)"
                " ON CONFLICT (account) DO UPDATE SET wanted_cents = excluded.wanted_cents",
                (account, amount_cents),
            )

    def wanted(self) -> list[tuple[str, int]]:
        return [(r[0], int(r[1])) for r in self.store.db.execute(
            "SELECT account, wanted_cents FROM sync_reservations WHERE wanted_cents > 0 ORDER BY account")]

    def record_grant(self, account: str, reservation_id: str, granted_cents: int, at: str) -> None:
        with self.store.transaction() as db:
            db.execute(
                "UPDATE sync_reservations SET reservation_id = ?, granted_cents = ?, granted_at = ? WHERE account = ?",
                (reservation_id, granted_cents, at, account),
            )
