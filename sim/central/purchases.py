"""The central server's side of debit-minute purchases: trust accounts, phone balances, apply once, audit.

The central server is the authority on money. A purchase moves its amount (plus any fee) out of the inmate's
trust account and its amount into the phone debit balance, in one transaction, at most once per idempotency
key; the same key again gets the first answer and moves nothing. Every decision, duplicate and status query
lands in the audit trail.

The books are a facility's (a tenant's): every row carries the facility, so one database holds many. They live
in SQLite or PostgreSQL (sim/central/backend.py; tables from sim/central/migrations.py). Purchases of one facility
take turns: SQLite's BEGIN IMMEDIATE, or a PostgreSQL transaction lock on the facility, so two server processes
never both spend the same trust balance and a key sent twice at once is decided once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol, cast
from zoneinfo import ZoneInfo

from firmware.kiosk.messages import RecentPurchase
from firmware.kiosk.policy import PurchaseRules, refusal
from firmware.kiosk.service import AccountReply, PurchaseReply, PurchaseRequest
from sim.central.backend import Connection, adopt
from sim.central.migrations import DEFAULT_FACILITY, KIOSK_BOOKS, SQLITE_TYPES, statements

#: The PostgreSQL transaction lock the purchases of one facility take turns on (with the facility's hash).
PURCHASE_LOCK = 7227

Now = Callable[[], datetime]


@dataclass(frozen=True)
class Holdings:
    trust_cents: int
    phone_cents: int
    #: Last day of a restriction (ISO date), or "" when not restricted.
    restricted_until: str = ""


class Book(Protocol):
    """Where trust and phone balances live: a table of their own, or the sync server's account data."""

    def read(self, tx: Connection, inmate_id: str) -> Holdings | None: ...

    def write(self, tx: Connection, inmate_id: str, trust_cents: int, phone_cents: int) -> None: ...


class TableBook:
    """Balances in kiosk_accounts: the standalone ledger the simulator and tests use."""

    def __init__(self, facility: str = DEFAULT_FACILITY) -> None:
        self.facility = facility

    def read(self, tx: Connection, inmate_id: str) -> Holdings | None:
        row = tx.execute(
            "SELECT trust_cents, phone_cents, restricted_until FROM kiosk_accounts"
            " WHERE facility = ? AND inmate_id = ?",
            (self.facility, inmate_id),
        ).fetchone()
        return None if row is None else Holdings(int(row[0]), int(row[1]), str(row[2]))

    def write(self, tx: Connection, inmate_id: str, trust_cents: int, phone_cents: int) -> None:
        tx.execute(
            "UPDATE kiosk_accounts SET trust_cents = ?, phone_cents = ? WHERE facility = ? AND inmate_id = ?",
            (trust_cents, phone_cents, self.facility, inmate_id),
        )


class PurchaseError(ValueError):
    """A request the server cannot even judge (malformed); str() names what is wrong."""


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    device_id: str
    inmate_id: str
    key: str
    action: str
    amount_cents: int
    fee_cents: int
    result: str
    detail: str


class CentralPurchases:
    """One facility's books. `db` is the central server's connection (tables made by its migrations), or a
    plain sqlite3 connection of the simulator's or a test's own (the tables are made here)."""

    def __init__(
        self,
        db: Connection | sqlite3.Connection,
        rules: PurchaseRules,
        now: Now = lambda: datetime.now(UTC),
        book: Book | None = None,
        facility: str = DEFAULT_FACILITY,
    ) -> None:
        self.db = adopt(db)
        self.rules = rules
        self.facility = facility
        self._now = now
        self.book: Book = book or TableBook(facility)
        self._zone = ZoneInfo(rules.timezone)
        if isinstance(db, sqlite3.Connection) and self.db is not db:
            with self.db.transaction() as tx:
                for statement in statements(KIOSK_BOOKS.format(**SQLITE_TYPES)):
                    tx.execute(statement)

    def _transaction(self) -> AbstractContextManager[Connection]:
        return nullcontext(self.db) if self.db.in_transaction else self.db.transaction()

    def _take_turn(self, tx: Connection) -> None:
        """Wait for this facility's other purchases to finish (SQLite's BEGIN IMMEDIATE already has)."""
        if tx.dialect == "postgresql":
            tx.execute("SELECT pg_advisory_xact_lock(?, hashtext(?))", (PURCHASE_LOCK, self.facility))

    def set_account(self, inmate_id: str, trust_cents: int, phone_cents: int, restricted_until: str = "") -> None:
        with self._transaction() as tx:
            tx.execute(
                "INSERT INTO kiosk_accounts (facility, inmate_id, trust_cents, phone_cents, restricted_until)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (facility, inmate_id) DO UPDATE SET"
                " trust_cents = excluded.trust_cents, phone_cents = excluded.phone_cents,"
                " restricted_until = excluded.restricted_until",
                (self.facility, inmate_id, trust_cents, phone_cents, restricted_until),
            )

    def _day(self, at: datetime) -> str:
        return at.astimezone(self._zone).date().isoformat()

    def _spent(self, tx: Connection, inmate_id: str, day: str) -> int:
        row = tx.execute(
            "SELECT spent_cents FROM kiosk_daily WHERE facility = ? AND inmate_id = ? AND day = ?",
            (self.facility, inmate_id, day),
        )
        found = row.fetchone()
        return 0 if found is None else int(found[0])

    def _balances(self, tx: Connection, inmate_id: str) -> tuple[int, int, str] | None:
        found = self.book.read(tx, inmate_id)
        return None if found is None else (found.trust_cents, found.phone_cents, found.restricted_until)

    def account(self, device_id: str, inmate_id: str) -> AccountReply:
        now = self._now()
        balances = self._balances(self.db, inmate_id) or (0, 0, "")
        recent = self.db.execute(
            "SELECT day, amount_cents FROM kiosk_central_purchases WHERE facility = ? AND inmate_id = ?"
            " AND status = 'applied' ORDER BY decided_at DESC, n DESC LIMIT 3",
            (self.facility, inmate_id),
        )
        return AccountReply(
            inmate_id,
            balances[0],
            balances[1],
            self._spent(self.db, inmate_id, self._day(now)),
            balances[2] if balances[2] >= self._day(now) else "",
            tuple(RecentPurchase(day, int(amount)) for day, amount in recent),
            self.rules,
        )

    def apply(self, request: PurchaseRequest, channel: str = "kiosk", staff_id: str = "") -> PurchaseReply:
        """Apply once: a key seen before returns its first answer unchanged."""
        _check_request(request)
        now = self._now()
        actor = f"staff:{staff_id}" if staff_id else f"inmate:{request.inmate_id}"
        with self._transaction() as tx:
            self._take_turn(tx)
            earlier = self._stored(tx, request.key)
            if earlier is not None:
                self._audit(tx, now, actor, request, "duplicate", earlier.status, earlier.reason)
                return earlier
            balances = self._balances(tx, request.inmate_id)
            day = self._day(now)
            reason = self._judge(tx, request, balances, day)
            trust, phone = (balances or (0, 0, ""))[:2]
            status: Literal["applied", "declined"] = "declined" if reason else "applied"
            if not reason:
                trust -= request.amount_cents + request.fee_cents
                phone += request.amount_cents
                self.book.write(tx, request.inmate_id, trust, phone)
                tx.execute(
                    "INSERT INTO kiosk_daily (facility, inmate_id, day, spent_cents) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (facility, inmate_id, day)"
                    " DO UPDATE SET spent_cents = kiosk_daily.spent_cents + excluded.spent_cents",
                    (self.facility, request.inmate_id, day, request.amount_cents),
                )
            reply = PurchaseReply(request.key, status, reason or "", trust, phone, _stamp(now))
            self._store(tx, request, channel, staff_id, reply, day)
            self._audit(tx, now, actor, request, "purchase", status, reason or "")
            return reply

    def _judge(
        self, tx: Connection, request: PurchaseRequest, balances: tuple[int, int, str] | None, day: str
    ) -> str | None:
        if balances is None:
            return "unknown_inmate"
        if balances[2] and day <= balances[2]:  # restricted through its last day (ISO dates compare as text)
            return "restricted"
        if request.fee_cents != self.rules.fee_for(request.amount_cents):
            return "fee_changed"
        return refusal(self.rules, request.amount_cents, balances[0], self._spent(tx, request.inmate_id, day))

    def status(self, device_id: str, key: str) -> PurchaseReply:
        """The stored answer for `key`, or `unknown` when it never arrived (the kiosk then sends it again)."""
        now = self._now()
        with self._transaction() as tx:
            earlier = self._stored(tx, key)
            probe = PurchaseRequest(key, device_id, self._inmate_of(tx, key), 0, 0)
            reply = earlier or PurchaseReply(key, "unknown", "never received", 0, 0, _stamp(now))
            self._audit(tx, now, f"kiosk:{device_id}", probe, "status", reply.status, reply.reason)
            return reply

    def _inmate_of(self, tx: Connection, key: str) -> str:
        row = tx.execute(
            "SELECT inmate_id FROM kiosk_central_purchases WHERE facility = ? AND key = ?", (self.facility, key)
        ).fetchone()
        return "" if row is None else str(row[0])

    def _stored(self, tx: Connection, key: str) -> PurchaseReply | None:
        row = tx.execute(
            "SELECT status, reason, trust_cents, phone_cents, decided_at FROM kiosk_central_purchases"
            " WHERE facility = ? AND key = ?",
            (self.facility, key),
        ).fetchone()
        if row is None:
            return None
        status = cast(Literal["applied", "declined"], row[0])
        return PurchaseReply(key, status, row[1], int(row[2]), int(row[3]), row[4])

    def _store(
        self,
        tx: Connection,
        request: PurchaseRequest,
        channel: str,
        staff_id: str,
        reply: PurchaseReply,
        day: str,
    ) -> None:
        tx.execute(
            "INSERT INTO kiosk_central_purchases (facility, key, inmate_id, channel, device_id, staff_id,"
            " amount_cents, fee_cents, status, reason, trust_cents, phone_cents, day, decided_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self.facility,
                request.key,
                request.inmate_id,
                channel,
                request.device_id,
                staff_id,
                request.amount_cents,
                request.fee_cents,
                reply.status,
                reply.reason,
                reply.trust_cents,
                reply.phone_cents,
                day,
                reply.decided_at,
            ),
        )

    def _audit(
        self,
        tx: Connection,
        now: datetime,
        actor: str,
        request: PurchaseRequest,
        action: str,
        result: str,
        detail: str,
    ) -> None:
        tx.execute(
            "INSERT INTO kiosk_audit (facility, at, actor, device_id, inmate_id, key, action, amount_cents,"
            " fee_cents, result, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self.facility,
                _stamp(now),
                actor,
                request.device_id,
                request.inmate_id,
                request.key,
                action,
                request.amount_cents,
                request.fee_cents,
                result,
                detail,
            ),
        )

    def audit(self) -> list[AuditEntry]:
        rows = self.db.execute(
            "SELECT seq, at, actor, device_id, inmate_id, key, action, amount_cents, fee_cents, result, detail"
            " FROM kiosk_audit WHERE facility = ? ORDER BY seq",
            (self.facility,),
        )
        return [AuditEntry(*row) for row in rows]

    def knows(self, key: str) -> bool:
        return self._stored(self.db, key) is not None

    def applied_count(self, key: str) -> int:
        row = self.db.execute(
            "SELECT count(*) FROM kiosk_central_purchases WHERE facility = ? AND key = ? AND status = 'applied'",
            (self.facility, key),
        ).fetchone()
        return int(row[0])

    def balances(self, inmate_id: str) -> tuple[int, int]:
        found = self._balances(self.db, inmate_id)
        if found is None:
            raise PurchaseError(f"no account for inmate {inmate_id!r}")
        return found[0], found[1]


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _check_request(request: PurchaseRequest) -> None:
    if not request.key or len(request.key) > 64:
        raise PurchaseError(f"purchase key {request.key!r}: expected 1 to 64 characters")
    if not request.inmate_id:
        raise PurchaseError(f"purchase {request.key}: inmate id is empty")
    if request.amount_cents <= 0 or request.fee_cents < 0:
        raise PurchaseError(
            f"purchase {request.key}: amount {request.amount_cents} and fee {request.fee_cents} must be positive"
        )
