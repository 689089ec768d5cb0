"""Records the handset must never lose: calls and their CDRs, ledger entries, blocks, violations, PIN attempts,
lockouts and reports, each committed in ONE transaction together with its outbox item.

Idempotent by construction: a call's ledger entries are keyed "<call_id>:reserve|charge|release" (UNIQUE per
call and kind) and its CDR by call id, so repeating a step after a power cut finds the committed row and writes
nothing twice; a reservation settles once. Nothing here reads a clock: every time comes from the caller.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from firmware.ids import new_id
from firmware.rules import schedule
from firmware.rules.authorize import Grant, Refusal, Usage
from firmware.rules.datasets import Inmate
from firmware.rules.facility import FacilityRules, PinPolicy
from firmware.rules.rating import Tariff, billed_minutes, billed_seconds, charge_cents
from firmware.store import Store
from firmware.store.outbox import Outbox


def iso(moment: datetime) -> str:
    """UTC, millisecond ISO text: sorts as time does, so SQL can compare it."""
    return schedule.require_aware(moment).astimezone(UTC).isoformat(timespec="milliseconds")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


_UNACKED = "EXISTS (SELECT 1 FROM outbox o WHERE o.id = {table}.outbox_id AND o.acked_at IS NULL)"


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


@dataclass(frozen=True)
class PinAttemptResult:
    attempts_left: int
    locked_until: datetime | None
    #: Whether the phone itself is locked (not only the inmate's account).
    device: bool = False


class Records:
    def __init__(self, store: Store, rules: FacilityRules, device_id: str) -> None:
        self.store = store
        self.rules = rules
        self.device_id = device_id
        self.outbox = Outbox(store)

    # -- calls -------------------------------------------------------------------------------------------

    def open_call(self, call_id: str, inmate_id: str, grant: Grant, started_at: datetime) -> None:
        """The call exists and its funds are held before it is dialed; repeating it changes nothing."""
        at = iso(started_at)
        with self.store.transaction() as db:
            if db.execute("SELECT 1 FROM rules_calls WHERE id = ?", (call_id,)).fetchone():
                return
            db.execute(
                "INSERT INTO rules_calls (id, inmate_id, number, dialed, call_type, call_class, account,"
                " rate_per_minute, addon_per_minute, free_call, recorded, attorney, started_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                ),
            )
            if grant.account is not None:
                self._ledger(db, call_id, grant.account, "reserve", grant.reservation_cents, at)

    def mark_connected(self, call_id: str, connected_at: datetime) -> None:
        with self.store.transaction() as db:
            db.execute(
                "UPDATE rules_calls SET connected_at = ? WHERE id = ? AND connected_at IS NULL AND closed = 0",
                (iso(connected_at), call_id),
            )

    def checkpoint(self, call_id: str, connected_s: float) -> None:
        """Talk time so far: what a power cut bills, no more (the handset calls this every minute or so)."""
        with self.store.transaction() as db:
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
        with self.store.transaction() as db:
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
                reserved = db.execute(
                    "SELECT amount_cents FROM rules_ledger WHERE call_id = ? AND kind = 'reserve'", (call_id,)
                ).fetchone()
                if charge:
                    self._ledger(db, call_id, call["account"], "charge", charge, at)
                if reserved is not None:
                    self._ledger(db, call_id, call["account"], "release", reserved[0], at)
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
            None,
            when,
            None,
            when,
            0,
            0,
            0,
            0,
            refusal.reason,
            None,
            (),
            False,
            False,
        )
        with self.store.transaction() as db:
            existing = self._cdr(db, call_id)
            if existing is not None:
                return existing
            self._insert_cdr(db, record)
        return record

    def open_calls(self) -> list[str]:
        return [r[0] for r in self.store.db.execute("SELECT id FROM rules_calls WHERE closed = 0 ORDER BY started_at")]

    def recover(self, now: datetime) -> list[CallRecord]:
        """After a restart: calls left open by a power cut are closed, billed for their last checkpoint."""
        return [self.close_call(call_id, now, "power_loss") for call_id in self.open_calls()]

    def cdr(self, call_id: str) -> CallRecord | None:
        return self._cdr(self.store.db, call_id)

    def _cdr(self, db: sqlite3.Connection, call_id: str) -> CallRecord | None:
        row = db.execute("SELECT * FROM rules_cdr WHERE call_id = ?", (call_id,)).fetchone()
        if row is None:
            return None
        return CallRecord(
            row["call_id"],
            row["inmate_id"],
            row["number"],
            row["call_type"],
            row["call_class"],
            row["started_at"],
            row["connected_at"],
            row["ended_at"],
            row["connected_s"],
            row["billed_s"],
            row["billed_minutes"],
            row["charge_cents"],
            row["end_reason"],
            row["recording_ref"],
            tuple(json.loads(row["violations"])),
            bool(row["free_call"]),
            bool(row["attorney"]),
        )

    def _insert_cdr(self, db: sqlite3.Connection, record: CallRecord) -> None:
        outbox_id = self.outbox.add(db, "cdr", record.payload(self.device_id), record.ended_at)
        db.execute(
            "INSERT INTO rules_cdr (call_id, inmate_id, number, call_type, call_class, started_at, connected_at,"
            " ended_at, connected_s, billed_s, billed_minutes, charge_cents, end_reason, recording_ref, violations,"
            " free_call, attorney, outbox_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.call_id,
                record.inmate_id,
                record.number,
                record.call_type,
                record.call_class,
                record.started_at,
                record.connected_at,
                record.ended_at,
                record.connected_s,
                record.billed_s,
                record.billed_minutes,
                record.charge_cents,
                record.end_reason,
                record.recording_ref,
                json.dumps(list(record.violations)),
                int(record.free_call),
                int(record.attorney),
                outbox_id,
            ),
        )

    def _ledger(self, db: sqlite3.Connection, call_id: str, account: str, kind: str, cents: int, at: str) -> None:
        entry_id = f"{call_id}:{kind}"
        payload = {
            "id": entry_id,
            "call_id": call_id,
            "account": account,
            "kind": kind,
            "amount_cents": cents,
            "at": at,
            "device_id": self.device_id,
        }
        outbox_id = self.outbox.add(db, "ledger", payload, at)
        db.execute(
            "INSERT INTO rules_ledger (id, call_id, account, kind, amount_cents, at, outbox_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (entry_id, call_id, account, kind, cents, at, outbox_id),
        )

    # -- money and usage ---------------------------------------------------------------------------------

    def unsynced_cents(self, account: str | None = None) -> int:
        """Held by open calls' reservations plus charged but not yet acknowledged by the central server.

        Both sums start from small sets (open calls, pending outbox items) through their partial indexes, so
        the cost does not grow with the years of settled ledger behind them.
        """
        where, args = ("AND l.account = ?", (account,)) if account is not None else ("", ())
        held = self.store.db.execute(
            "SELECT coalesce(sum(l.amount_cents), 0) FROM rules_calls c INDEXED BY rules_calls_open"
            " CROSS JOIN rules_ledger l ON l.call_id = c.id AND l.kind = 'reserve'"
            f" WHERE c.closed = 0 {where}",
            args,
        ).fetchone()[0]
        charged = self.store.db.execute(
            "SELECT coalesce(sum(l.amount_cents), 0) FROM outbox o INDEXED BY outbox_pending"
            " CROSS JOIN rules_ledger l ON l.outbox_id = o.id"
            f" WHERE o.acked_at IS NULL AND l.kind = 'charge' {where}",
            args,
        ).fetchone()[0]
        return int(held) + int(charged)

    def usage(self, inmate_id: str, inmate: Inmate, now: datetime) -> Usage:
        """The server's count plus this device's connected calls the server has not acknowledged yet."""
        day_start, day_end = (iso(t) for t in schedule.day_bounds(now, self.rules))
        month_start, month_end = (iso(t) for t in schedule.month_bounds(now, self.rules))
        unacked = _UNACKED.format(table="rules_cdr")
        calls_today, minutes_month = self.store.db.execute(
            "SELECT coalesce(sum(connected_at >= ? AND connected_at < ?), 0),"
            " coalesce(sum(CASE WHEN connected_at >= ? AND connected_at < ? THEN billed_minutes ELSE 0 END), 0)"
            f" FROM rules_cdr WHERE inmate_id = ? AND connected_at IS NOT NULL AND {unacked}",
            (day_start, day_end, month_start, month_end, inmate_id),
        ).fetchone()
        last_local = self.store.db.execute(
            "SELECT max(ended_at) FROM rules_cdr WHERE inmate_id = ? AND connected_at IS NOT NULL",
            (inmate_id,),
        ).fetchone()[0]
        server = inmate.usage
        today = schedule.local(now, self.rules).date()
        if server.day == today:
            calls_today += server.calls_day
        if server.month == today.strftime("%Y-%m"):
            minutes_month += server.minutes_month
        ends = [t for t in (parse_iso(last_local) if last_local else None, server.last_call_end) if t is not None]
        return Usage(int(calls_today), int(minutes_month), max(ends) if ends else None)

    def free_call_used(self, number: str) -> bool:
        return (
            self.store.db.execute("SELECT 1 FROM rules_free_calls WHERE number = ?", (number,)).fetchone() is not None
        )

    # -- blocks, violations, reports ---------------------------------------------------------------------

    def add_block(
        self,
        number: str,
        at: datetime,
        source: str = "called_party",
        call_id: str | None = None,
        inmate_id: str | None = None,
    ) -> bool:
        """Block `number` on this device at once and queue it for the central server; False if already blocked."""
        when = iso(at)
        with self.store.transaction() as db:
            if db.execute("SELECT 1 FROM rules_blocks WHERE number = ?", (number,)).fetchone():
                return False
            payload = {
                "number": number,
                "at": when,
                "source": source,
                "call_id": call_id,
                "inmate_id": inmate_id,
                "device_id": self.device_id,
            }
            outbox_id = self.outbox.add(db, "block", payload, when)
            db.execute(
                "INSERT INTO rules_blocks (number, at, source, call_id, inmate_id, outbox_id) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (number, when, source, call_id, inmate_id, outbox_id),
            )
            return True

    def blocked_locally(self, number: str) -> bool:
        return self.store.db.execute("SELECT 1 FROM rules_blocks WHERE number = ?", (number,)).fetchone() is not None

    def add_violation(
        self,
        kind: str,
        at: datetime,
        call_id: str | None = None,
        inmate_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
        violation_id: str | None = None,
    ) -> str:
        """A conduct violation against the inmate's PIN (three-way attempt, ...); the CDR lists the call's."""
        vid = violation_id or new_id()
        when = iso(at)
        body = dict(detail or {})
        with self.store.transaction() as db:
            if db.execute("SELECT 1 FROM rules_violations WHERE id = ?", (vid,)).fetchone():
                return vid
            payload = {
                "id": vid,
                "kind": kind,
                "at": when,
                "call_id": call_id,
                "inmate_id": inmate_id,
                "detail": body,
                "device_id": self.device_id,
            }
            outbox_id = self.outbox.add(db, "violation", payload, when)
            db.execute(
                "INSERT INTO rules_violations (id, call_id, inmate_id, kind, at, detail, outbox_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (vid, call_id, inmate_id, kind, when, json.dumps(body, sort_keys=True), outbox_id),
            )
        return vid

    def add_report(
        self,
        kind: str,
        at: datetime,
        detail: Mapping[str, Any],
        call_id: str | None = None,
        inmate_id: str | None = None,
    ) -> str:
        """A device report that is not a violation: pulse dialing on the hookswitch, a hookflash."""
        rid = new_id()
        when = iso(at)
        body = dict(detail)
        with self.store.transaction() as db:
            payload = {
                "id": rid,
                "at": when,
                "call_id": call_id,
                "inmate_id": inmate_id,
                "detail": body,
                "device_id": self.device_id,
            }
            outbox_id = self.outbox.add(db, kind, payload, when)
            db.execute(
                "INSERT INTO rules_reports (id, kind, call_id, inmate_id, at, detail, outbox_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (rid, kind, call_id, inmate_id, when, json.dumps(body, sort_keys=True), outbox_id),
            )
        return rid

    # -- PIN attempts and lockouts -----------------------------------------------------------------------

    def locked_until(self, now: datetime, account: str | None = None) -> datetime | None:
        """The end of the phone's lockout (account None) or of one inmate's account lockout, if one is running."""
        row = self.store.db.execute(
            "SELECT max(until) FROM rules_lockouts WHERE until > ? AND inmate_id IS ?", (iso(now), account)
        ).fetchone()
        return parse_iso(row[0]) if row[0] else None

    def pin_attempt(
        self, ok: bool, at: datetime, policy: PinPolicy, inmate_id: str | None = None, account: str | None = None
    ) -> PinAttemptResult:
        """Count one entry. A failure counts against the phone (within device_window_s, whoever succeeds in
        between) and, when the entry named an inmate's number, against that account until its own success.
        Lockouts escalate per scope; failures and lockouts are reported. All in one transaction."""
        when = iso(at)
        with self.store.transaction() as db:
            outbox_id = None
            if not ok:
                outbox_id = self.outbox.add(
                    db, "pin_failure", {"at": when, "device_id": self.device_id, "inmate_id": account}, when
                )
            seq = db.execute(
                "INSERT INTO rules_pin_attempts (at, ok, inmate_id, outbox_id) VALUES (?, ?, ?, ?)",
                (when, int(ok), inmate_id if ok else account, outbox_id),
            ).lastrowid
            if ok:
                return PinAttemptResult(policy.max_attempts, None)
            window_start = iso(at - timedelta(seconds=policy.device_window_s))
            device_since = db.execute(
                "SELECT coalesce(max(last_attempt_seq), 0) FROM rules_lockouts WHERE inmate_id IS NULL"
            ).fetchone()[0]
            device_failures = db.execute(
                "SELECT count(*) FROM rules_pin_attempts WHERE ok = 0 AND seq > ? AND at > ?",
                (device_since, window_start),
            ).fetchone()[0]
            account_failures = 0
            if account is not None:
                account_since = (
                    db.execute(
                        "SELECT max(s) FROM (SELECT max(seq) AS s FROM rules_pin_attempts "
                        "WHERE ok = 1 AND inmate_id = ?"
                        " UNION ALL SELECT max(last_attempt_seq) FROM rules_lockouts WHERE inmate_id = ?)",
                        (account, account),
                    ).fetchone()[0]
                    or 0
                )
                account_failures = db.execute(
                    "SELECT count(*) FROM rules_pin_attempts WHERE ok = 0 AND inmate_id = ? AND seq > ?",
                    (account, account_since),
                ).fetchone()[0]
            until = None
            if account is not None and account_failures >= policy.max_attempts:
                until = self._lock(db, at, policy, account, account_failures, seq)
            if device_failures >= policy.device_max_failures:
                device_until = self._lock(db, at, policy, None, device_failures, seq)
                until = device_until if until is None else max(until, device_until)
            if account is not None:
                left = policy.max_attempts - account_failures
            else:
                left = policy.device_max_failures - device_failures
            return PinAttemptResult(max(left, 0), until, device=until is not None and self._device_locked(db, at))

    def _device_locked(self, db: sqlite3.Connection, at: datetime) -> bool:
        return (
            db.execute("SELECT 1 FROM rules_lockouts WHERE inmate_id IS NULL AND until > ?", (iso(at),)).fetchone()
            is not None
        )

    def _lock(
        self, db: sqlite3.Connection, at: datetime, policy: PinPolicy, account: str | None, failures: int, seq: int
    ) -> datetime:
        """Record one lockout of the phone (account None) or an account: the first within escalation_window_s
        lasts lockout_s, later ones longer_lockout_s; from the staff_after_lockouts-th on, staff are asked."""
        when = iso(at)
        earlier = db.execute(
            "SELECT count(*) FROM rules_lockouts WHERE inmate_id IS ? AND started_at > ?",
            (account, iso(at - timedelta(seconds=policy.escalation_window_s))),
        ).fetchone()[0]
        level = earlier + 1
        seconds = policy.lockout_s if level == 1 else policy.longer_lockout_s
        until = schedule.require_aware(at).astimezone(UTC) + timedelta(seconds=seconds)
        lockout_id = new_id()
        payload = {
            "id": lockout_id,
            "started_at": when,
            "until": iso(until),
            "attempts": failures,
            "device_id": self.device_id,
            "inmate_id": account,
            "level": level,
            "for_staff": level >= policy.staff_after_lockouts,
        }
        lock_outbox = self.outbox.add(db, "lockout", payload, when)
        db.execute(
            "INSERT INTO rules_lockouts (id, started_at, until, last_attempt_seq, outbox_id, inmate_id, level)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (lockout_id, when, iso(until), seq, lock_outbox, account, level),
        )
        return until

    # -- language ----------------------------------------------------------------------------------------

    def remember_language(self, inmate_id: str, language: str, at: datetime) -> None:
        when = iso(at)
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO rules_languages (inmate_id, language, at) VALUES (?, ?, ?)"
                " ON CONFLICT (inmate_id) DO UPDATE SET language = excluded.language, at = excluded.at",
                (inmate_id, language, when),
            )
            self.outbox.add(
                db,
                "language",
                {"inmate_id": inmate_id, "language": language, "at": when, "device_id": self.device_id},
                when,
            )

    def language(self, inmate_id: str) -> str | None:
        row = self.store.db.execute("SELECT language FROM rules_languages WHERE inmate_id = ?", (inmate_id,)).fetchone()
        return row[0] if row else None
