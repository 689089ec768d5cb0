"""The technician code's failure counter, kept in the store so that a restart forgets nothing.

Wrong codes in a row (no success between) lock technician mode; lockouts within the escalation window grow
(lockout_s, then longer_lockout_s) and from the staff_after_lockouts-th on each is audited for staff (the audit
entry reaches the central server through the outbox). Times are wall-clock seconds since the epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from firmware.store import Store
from firmware.tech.audit import AuditLog


class GuardRules(Protocol):
    """What the guard reads of technician mode's rules (a frozen TechRules: read-only)."""

    @property
    def code_max_tries(self) -> int: ...

    @property
    def lockout_s(self) -> float: ...

    @property
    def longer_lockout_s(self) -> float: ...

    @property
    def staff_after_lockouts(self) -> int: ...

    @property
    def escalation_window_s(self) -> float: ...


@dataclass(frozen=True)
class CodeVerdict:
    ok: bool
    tries_left: int
    #: Seconds technician mode stays locked from now (None: not locked).
    locked_s: float | None = None


class CodeGuard:
    def __init__(self, store: Store, rules: GuardRules) -> None:
        self.store = store
        self.rules = rules

    def locked_for(self, now: float) -> float | None:
        """Seconds left of a running lockout, or None."""
        row = self.store.db.execute("SELECT max(until) FROM tech_code_lockouts").fetchone()
        return row[0] - now if row[0] is not None and row[0] > now else None

    def record(self, ok: bool, now: float) -> CodeVerdict:
        """Count one checked code; the code_max_tries-th wrong one in a row locks technician mode."""
        rules = self.rules
        with self.store.transaction() as db:
            seq = db.execute("INSERT INTO tech_code_attempts (at, ok) VALUES (?, ?)", (now, int(ok))).lastrowid
            if ok:
                return CodeVerdict(True, rules.code_max_tries)
            since = (
                db.execute(
                    "SELECT max(s) FROM (SELECT max(seq) AS s FROM tech_code_attempts WHERE ok = 1"
                    " UNION ALL SELECT max(last_attempt_seq) FROM tech_code_lockouts)"
                ).fetchone()[0]
                or 0
            )
            failures = db.execute(
                "SELECT count(*) FROM tech_code_attempts WHERE ok = 0 AND seq > ?", (since,)
            ).fetchone()[0]
            if failures < rules.code_max_tries:
                return CodeVerdict(False, rules.code_max_tries - failures)
            level = (
                db.execute(
                    "SELECT count(*) FROM tech_code_lockouts WHERE started_at > ?", (now - rules.escalation_window_s,)
                ).fetchone()[0]
                + 1
            )
            seconds = rules.lockout_s if level == 1 else rules.longer_lockout_s
            db.execute(
                "INSERT INTO tech_code_lockouts (started_at, until, last_attempt_seq, level) VALUES (?, ?, ?, ?)",
                (now, now + seconds, seq, level),
            )
        AuditLog(self.store).record(
            "code_lockout", {"level": level, "lockout_s": seconds, "for_staff": level >= rules.staff_after_lockouts}
        )
        return CodeVerdict(False, 0, seconds)
