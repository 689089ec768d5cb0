"""Server reservations: what a device may spend on an account while it has no link, and calls' holds.

The server is the authority on balances; the device's view (cached server balance minus what it still holds
or has charged without acknowledgement) is the rules' (`RulesService.balance_cents`, rules/ledger.py
`Ledger.unsynced_cents`).
What sync adds is the bound for two devices used at once offline: at each sync a device may ask the server to
reserve part of an account's balance for it; the server never reserves more than the balance across all
devices (docs/sync-protocol.md, 11), so offline a device spends at most its reservation minus its own
unsynced use, and together the devices can never spend more than the account holds.

A debit or prepaid call's hold (firmware/sync/holds.py) is the same server row, asked for just before the call
and kept here with no standing want; once no call on the account is open, the session's reserve step (after the
push, so the server has applied the call's charge) releases it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from firmware.store import Store

#: How long a call's hold just granted waits for its call to open before a session may release it.
HOLD_CLAIM_S = 60


@dataclass(frozen=True)
class Reservation:
    account: str
    reservation_id: str | None
    granted_cents: int


class Reservations:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, account: str) -> Reservation:
        row = self.store.db.execute(
            "SELECT reservation_id, granted_cents FROM sync_reservations WHERE account = ?", (account,)
        ).fetchone()
        return Reservation(account, None, 0) if row is None else Reservation(account, row[0], int(row[1]))

    def offline_limit(self, account: str, balance_cents: int, unsynced_cents: int) -> int:
        """What may be spent on `account` without a link: the rules' balance view (already net of unsynced
        use), and no more than this device's reservation less its own unsynced use."""
        return max(0, min(balance_cents, self.get(account).granted_cents - unsynced_cents))

    def want(self, account: str, amount_cents: int) -> None:
        """Ask the next syncs to keep this much of the account's balance reserved for this device."""
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO sync_reservations (account, wanted_cents) VALUES (?, ?)"
                " ON CONFLICT (account) DO UPDATE SET wanted_cents = excluded.wanted_cents",
                (account, amount_cents),
            )

    def wanted(self) -> list[tuple[str, int]]:
        return [
            (r[0], int(r[1]))
            for r in self.store.db.execute(
                "SELECT account, wanted_cents FROM sync_reservations WHERE wanted_cents > 0 ORDER BY account"
            )
        ]

    def record_grant(self, account: str, reservation_id: str, granted_cents: int, at: str) -> None:
        with self.store.transaction() as db:
            db.execute(
                "UPDATE sync_reservations SET reservation_id = ?, granted_cents = ?, granted_at = ? WHERE account = ?",
                (reservation_id, granted_cents, at, account),
            )

    def record_hold(self, account: str, reservation_id: str, granted_cents: int, at: str) -> None:
        """A call's hold as the server granted it: released by a later session once the call is over."""
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO sync_reservations (account, reservation_id, granted_cents, granted_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (account) DO UPDATE SET reservation_id = excluded.reservation_id,"
                " granted_cents = excluded.granted_cents, granted_at = excluded.granted_at",
                (account, reservation_id, granted_cents, at),
            )

    def settled_holds(self, now: datetime) -> list[str]:
        """Accounts whose call hold no open call needs any more (the rules' open calls, rules/calls.py). A hold
        granted less than HOLD_CLAIM_S ago is left alone: its call may be about to open (the flow checks the
        call again with the grant, on another thread, after the hold's answer)."""
        granted_before = (now - timedelta(seconds=HOLD_CLAIM_S)).isoformat(timespec="milliseconds")
        return [
            r[0]
            for r in self.store.db.execute(
                "SELECT account FROM sync_reservations WHERE wanted_cents = 0 AND granted_cents > 0"
                " AND granted_at < ?"
                " AND account NOT IN (SELECT account FROM rules_calls WHERE closed = 0 AND account IS NOT NULL)"
                " ORDER BY account",
                (granted_before,),
            )
        ]
