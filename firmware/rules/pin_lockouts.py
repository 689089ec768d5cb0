"""PIN attempts and lockouts, of the phone and of each inmate's account, escalating per scope.

Every failure and every lockout is reported to the central server with its row in one transaction.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from firmware.ids import new_id
from firmware.rules import schedule
from firmware.rules.facility_policies import PinPolicy
from firmware.rules.journal import Keeper, iso, parse_iso
from firmware.store import Store
from firmware.store.cache import CentralCache

#: The central server's lock on one inmate's account, made from every device's failures (dataset "keys").
ACCOUNT_LOCK_PREFIX = "pin_lockout:"


def account_lock_key(account: str) -> str:
    return ACCOUNT_LOCK_PREFIX + account


def central_account_lock(store: Store, account: str, now: datetime) -> datetime | None:
    """The end of the central server's lock on this account (sim/central/pin_guard.py), if one is running: the
    failures of every phone and kiosk add up there, so another handset cannot give an attacker fresh tries."""
    value = CentralCache(store).get("keys", account_lock_key(account))
    until = value.get("until") if isinstance(value, dict) else None
    try:
        moment = datetime.fromisoformat(until) if isinstance(until, str) else None
    except ValueError:
        return None
    if moment is None or moment.tzinfo is None or moment <= schedule.require_aware(now):
        return None
    return moment


@dataclass(frozen=True)
class PinAttemptResult:
    attempts_left: int
    locked_until: datetime | None
    #: Whether the phone itself is locked (not only the inmate's account).
    device: bool = False


class PinLockouts(Keeper):
    def locked_until(self, now: datetime, account: str | None = None) -> datetime | None:
        """The end of the phone's lockout (account None) or of one inmate's account lockout, if one is running:
        this device's own, or the central server's from every device's failures."""
        row = self.journal.store.db.execute(
            "SELECT max(until) FROM rules_lockouts WHERE until > ? AND inmate_id IS ?", (iso(now), account)
        ).fetchone()
        local = parse_iso(row[0]) if row[0] else None
        central = None if account is None else central_account_lock(self.journal.store, account, now)
        return max((t for t in (local, central) if t is not None), default=None)

    def attempt(
        self, ok: bool, at: datetime, policy: PinPolicy, inmate_id: str | None = None, account: str | None = None
    ) -> PinAttemptResult:
        """Count one entry. A failure counts against the phone (within device_window_s, whoever succeeds in
        between) and, when the entry named an inmate's number, against that account until its own success.
        Lockouts escalate per scope; failures and lockouts are reported. All in one transaction."""
        when = iso(at)
        with self.journal.transaction() as db:
            outbox_id = None
            if not ok:
                outbox_id = self.journal.queue(db, "pin_failure", {"at": when, "inmate_id": account}, when)
            seq: int = db.execute(
                "INSERT INTO rules_pin_attempts (at, ok, inmate_id, outbox_id) VALUES (?, ?, ?, ?) RETURNING seq",
                (when, int(ok), inmate_id if ok else account, outbox_id),
            ).fetchone()[0]
            if ok:
                return PinAttemptResult(policy.max_attempts, None)
            device_failures = self._device_failures(db, at, policy)
            account_failures = 0 if account is None else self._account_failures(db, account)
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

    @staticmethod
    def _device_failures(db: sqlite3.Connection, at: datetime, policy: PinPolicy) -> int:
        """Failures on the phone since its last lockout, within device_window_s."""
        window_start = iso(at - timedelta(seconds=policy.device_window_s))
        since = db.execute(
            "SELECT coalesce(max(last_attempt_seq), 0) FROM rules_lockouts WHERE inmate_id IS NULL"
        ).fetchone()[0]
        return int(
            db.execute(
                "SELECT count(*) FROM rules_pin_attempts WHERE ok = 0 AND seq > ? AND at > ?", (since, window_start)
            ).fetchone()[0]
        )

    @staticmethod
    def _account_failures(db: sqlite3.Connection, account: str) -> int:
        """Failures against an account since its last success or lockout."""
        since = (
            db.execute(
                "SELECT max(s) FROM (SELECT max(seq) AS s FROM rules_pin_attempts WHERE ok = 1 AND inmate_id = ?"
                " UNION ALL SELECT max(last_attempt_seq) FROM rules_lockouts WHERE inmate_id = ?)",
                (account, account),
            ).fetchone()[0]
            or 0
        )
        return int(
            db.execute(
                "SELECT count(*) FROM rules_pin_attempts WHERE ok = 0 AND inmate_id = ? AND seq > ?", (account, since)
            ).fetchone()[0]
        )

    @staticmethod
    def _device_locked(db: sqlite3.Connection, at: datetime) -> bool:
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
            "inmate_id": account,
            "level": level,
            "for_staff": level >= policy.staff_after_lockouts,
        }
        row = {"id": lockout_id, "started_at": when, "until": iso(until), "last_attempt_seq": seq}
        self.journal.record(
            db, "rules_lockouts", {**row, "inmate_id": account, "level": level}, "lockout", payload, when
        )
        return until
