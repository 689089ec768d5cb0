"""Calls and their CDRs: opened with their funds held, checkpointed while they talk, closed and billed once.

Idempotent by construction: a call's CDR is keyed by call id and its ledger entries by call and kind, so a step
repeated after a power cut finds the committed row and writes nothing twice; a reservation settles once.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from firmware.rules.authorize import Grant, Refusal
from firmware.rules.facility import FacilityRules
from firmware.rules.journal import Journal, iso
from firmware.rules.ledger import Ledger
from firmware.rules.rating import Tariff, billed_minutes, billed_seconds, charge_cents


@dataclass(frozen=True)
class CallRecord:
    """A CDR as committed: what the outbox carries to the central server."""

    call_id: str
    inmate_id: str
    number: str
    call_type: str
    call_class: str | None
    started_at: str
    connected_at: str | None
    ended_at: str
    connected_s: int
    billed_s: int
    billed_minutes: int
    charge_cents: int
    end_reason: str
    recording_ref: str | None
    violations: tuple[str, ...]
    free_call: bool
    attorney: bool

    def payload(self, device_id: str) -> dict[str, Any]:
        record = {k: getattr(self, k) for k in self.__dataclass_fields__}
        record["violations"] = list(self.violations)
        record["device_id"] = device_id
        return record


#: The CDR's columns, in CallRecord's order.
_CDR_FIELDS = tuple(CallRecord.__dataclass_fields__)


class CallLog:
    def __init__(self, journal: Journal, ledger: Ledger, rules: FacilityRules) -> None:
        self.journal = journal
        self.ledger = ledger
        self.rules = rules

    def open_call(self, call_id: str, inmate_id: str, grant: Grant, started_at: datetime, proof: str = "") -> None:
        """The call exists and its funds are held before it is dialed; repeating it changes nothing. `proof` is the
        inmate's proof of PIN for this call (firmware/rules/pin_proof.py `call_message`), kept for its charge."""
        at = iso(started_at)
        with self.journal.transaction() as db:
            if db.execute("SELECT 1 FROM rules_calls WHERE id = ?", (call_id,)).fetchone():
                return
            db.execute(
                "INSERT INTO rules_calls (id, inmate_id, number, dialed, call_type, call_class, account,"
                " rate_per_minute, addon_per_minute, free_call, recorded, attorney, started_at, proof)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    call_id,
                    inmate_id,
                    grant.number,
                    grant.destination.dialed,
                    grant.call_type,
                    grant.destination.call_class,
                    grant.account,
                    str(grant.tariff.rate_per_minute),
                    str(grant.tariff.addon_per_minute),
                    int(grant.free_call),
                    int(grant.recorded),
                    int(grant.attorney),
                    at,
                    proof,
                ),
            )
            if grant.account is not None:
                self.ledger.entry(db, call_id, grant.account, "reserve", grant.reservation_cents, at)

    def mark_connected(self, call_id: str, connected_at: datetime) -> None:
        with self.journal.transaction() as db:
            db.execute(
                "UPDATE rules_calls SET connected_at = ? WHERE id = ? AND connected_at IS NULL AND closed = 0",
                (iso(connected_at), call_id),
            )

    def checkpoint(self, call_id: str, connected_s: float) -> None:
        """Talk time so far: what a power cut bills, no more (the handset calls this every minute or so)."""
        with self.journal.transaction() as db:
            db.execute(
                "UPDATE rules_calls SET connected_s = max(connected_s, ?) WHERE id = ? AND closed = 0",
                (float(connected_s), call_id),
            )

    def close_call(
        self,
        call_id: str,
        ended_at: datetime,
        end_reason: str,
        connected_s: float | None = None,
        recording_ref: str | None = None,
        with_record: Callable[[sqlite3.Connection, CallRecord], None] | None = None,
    ) -> CallRecord:
        """Write the CDR, the charge and the release of the reservation, once; later calls return the CDR.

        `with_record` runs inside the same transaction when the CDR is first written (the handset queues the
        call's recording for upload there), so the record and what goes with it commit together or not at all."""
        with self.journal.transaction() as db:
            existing = self._cdr(db, call_id)
            if existing is not None:
                return existing
            call = db.execute("SELECT * FROM rules_calls WHERE id = ?", (call_id,)).fetchone()
            if call is None:
                raise KeyError(f"call {call_id!r}: never opened")
            talked = call["connected_s"] if connected_s is None else max(float(connected_s), 0.0)
            if call["connected_at"] is None:
                talked = 0
            price = Tariff(
                call["call_type"],
                call["call_class"],
                Decimal(call["rate_per_minute"]),
                Decimal(call["addon_per_minute"]),
                self.rules.rating,
            )
            billed = billed_seconds(talked, self.rules.rating)
            charge = 0 if call["free_call"] else charge_cents(talked, price)
            at = iso(ended_at)
            violations = tuple(
                row[0]
                for row in db.execute("SELECT kind FROM rules_violations WHERE call_id = ? ORDER BY at", (call_id,))
            )
            record = CallRecord(
                call_id,
                call["inmate_id"],
                call["number"],
                call["call_type"],
                call["call_class"],
                call["started_at"],
                call["connected_at"],
                at,
                round(talked),
                billed,
                billed_minutes(billed),
                charge,
                end_reason,
                recording_ref if call["recorded"] else None,
                violations,
                bool(call["free_call"]),
                bool(call["attorney"]),
            )
            self._insert_cdr(db, record)
            if call["account"] is not None:
                reserved = self.ledger.reserved_cents(db, call_id)
                if charge:
                    proof = {"inmate_id": call["inmate_id"], "proof": call["proof"]}
                    self.ledger.entry(db, call_id, call["account"], "charge", charge, at, proof)
                if reserved is not None:
                    self.ledger.entry(db, call_id, call["account"], "release", reserved, at)
            if call["free_call"] and call["connected_at"] is not None:
                db.execute(
                    "INSERT OR IGNORE INTO rules_free_calls (number, call_id, at) VALUES (?, ?, ?)",
                    (call["number"], call_id, at),
                )
            db.execute("UPDATE rules_calls SET closed = 1, connected_s = ? WHERE id = ?", (talked, call_id))
            if with_record is not None:
                with_record(db, record)
            return record

    def record_refusal(
        self, call_id: str, inmate_id: str, dialed: str, call_type: str, refusal: Refusal, at: datetime
    ) -> CallRecord:
        """An attempt that never rang is a call record too (its end reason is the refusal's prompt id)."""
        when = iso(at)
        record = CallRecord(
            call_id,
            inmate_id,
            dialed,
            call_type,
            call_class=None,
            started_at=when,
            connected_at=None,
            ended_at=when,
            connected_s=0,
            billed_s=0,
            billed_minutes=0,
            charge_cents=0,
            end_reason=refusal.reason,
            recording_ref=None,
            violations=(),
            free_call=False,
            attorney=False,
        )
        with self.journal.transaction() as db:
            existing = self._cdr(db, call_id)
            if existing is not None:
                return existing
            self._insert_cdr(db, record)
        return record

    def open_calls(self) -> list[str]:
        db = self.journal.store.db
        return [r[0] for r in db.execute("SELECT id FROM rules_calls WHERE closed = 0 ORDER BY started_at")]

    def recover(self, now: datetime) -> list[CallRecord]:
        """After a restart: calls left open by a power cut are closed, billed for their last checkpoint."""
        return [self.close_call(call_id, now, "power_loss") for call_id in self.open_calls()]

    def cdr(self, call_id: str) -> CallRecord | None:
        return self._cdr(self.journal.store.db, call_id)

    def _cdr(self, db: sqlite3.Connection, call_id: str) -> CallRecord | None:
        row = db.execute("SELECT * FROM rules_cdr WHERE call_id = ?", (call_id,)).fetchone()
        if row is None:
            return None
        values = {name: row[name] for name in _CDR_FIELDS}
        values["violations"] = tuple(json.loads(row["violations"]))
        values["free_call"], values["attorney"] = bool(row["free_call"]), bool(row["attorney"])
        return CallRecord(**values)

    def _insert_cdr(self, db: sqlite3.Connection, record: CallRecord) -> None:
        row = {name: getattr(record, name) for name in _CDR_FIELDS}
        row |= {"violations": json.dumps(list(record.violations))}
        row |= {"free_call": int(record.free_call), "attorney": int(record.attorney)}
        self.journal.record(db, "rules_cdr", row, "cdr", record.payload(self.journal.device_id), record.ended_at)
