"""Money a call holds, charges and releases: ledger entries, and what the central server has not confirmed yet.

Entries are keyed "<call_id>:reserve|charge|release" (UNIQUE per call and kind), so a step repeated after a
power cut finds the committed row and writes nothing twice.
"""

from __future__ import annotations

import sqlite3

from firmware.rules.journal import Keeper


class Ledger(Keeper):
    def entry(
        self,
        db: sqlite3.Connection,
        call_id: str,
        account: str,
        kind: str,
        cents: int,
        at: str,
        proof: dict[str, str] | None = None,
    ) -> None:
        """One entry with its outbox item, inside the caller's transaction (the call's own). A charge's item also
        carries `proof`: who placed the call and their proof of PIN for it, which the central server checks."""
        entry_id = f"{call_id}:{kind}"
        row = {"id": entry_id, "call_id": call_id, "account": account, "kind": kind, "amount_cents": cents}
        self.journal.record(db, "rules_ledger", {**row, "at": at}, "ledger", {**row, "at": at, **(proof or {})}, at)

    def reserved_cents(self, db: sqlite3.Connection, call_id: str) -> int | None:
        row = db.execute(
            "SELECT amount_cents FROM rules_ledger WHERE call_id = ? AND kind = 'reserve'", (call_id,)
        ).fetchone()
        return None if row is None else int(row[0])

    def unsynced_cents(self, account: str | None = None) -> int:
        """Held by open calls' reservations plus charged but not yet acknowledged by the central server.

        Both sums start from small sets (open calls, pending outbox items) through their partial indexes, so
        the cost does not grow with the years of settled ledger behind them.
        """
        db = self.journal.store.db
        where, args = ("AND l.account = ?", (account,)) if account is not None else ("", ())
        held = db.execute(
            "SELECT coalesce(sum(l.amount_cents), 0) FROM rules_calls c INDEXED BY rules_calls_open"
            " CROSS JOIN rules_ledger l ON l.call_id = c.id AND l.kind = 'reserve'"
            f" WHERE c.closed = 0 {where}",
            args,
        ).fetchone()[0]
        charged = db.execute(
            "SELECT coalesce(sum(l.amount_cents), 0) FROM outbox o INDEXED BY outbox_pending"
            " CROSS JOIN rules_ledger l ON l.outbox_id = o.id"
            f" WHERE o.acked_at IS NULL AND l.kind = 'charge' {where}",
            args,
        ).fetchone()[0]
        return int(held) + int(charged)
