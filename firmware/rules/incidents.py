"""What happened on the device that the central server must know besides calls: blocks, violations, reports.

Each is written with its outbox item in one transaction (firmware/rules/journal.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from firmware.ids import new_id
from firmware.rules.journal import Journal, iso


class Blocks:
    """Numbers blocked on this device (a called party who pressed the block key), before the server knows."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def add(
        self,
        number: str,
        at: datetime,
        source: str = "called_party",
        call_id: str | None = None,
        inmate_id: str | None = None,
    ) -> bool:
        """Block `number` on this device at once and queue it for the central server; False if already blocked."""
        when = iso(at)
        with self.journal.transaction() as db:
            if db.execute("SELECT 1 FROM rules_blocks WHERE number = ?", (number,)).fetchone():
                return False
            payload = {"number": number, "at": when, "source": source, "call_id": call_id, "inmate_id": inmate_id}
            outbox_id = self.journal.queue(db, "block", payload, when)
            db.execute(
                "INSERT INTO rules_blocks (number, at, source, call_id, inmate_id, outbox_id) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (number, when, source, call_id, inmate_id, outbox_id),
            )
            return True

    def blocked(self, number: str) -> bool:
        db = self.journal.store.db
        return db.execute("SELECT 1 FROM rules_blocks WHERE number = ?", (number,)).fetchone() is not None


class Violations:
    """Conduct violations against an inmate's PIN (three-way attempt, ...); a call's CDR lists its own."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def add(
        self,
        kind: str,
        at: datetime,
        call_id: str | None = None,
        inmate_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
        violation_id: str | None = None,
    ) -> str:
        """The violation's id; repeating one with the same id writes nothing."""
        vid = violation_id or new_id()
        when = iso(at)
        body = dict(detail or {})
        with self.journal.transaction() as db:
            if db.execute("SELECT 1 FROM rules_violations WHERE id = ?", (vid,)).fetchone():
                return vid
            payload = {"id": vid, "kind": kind, "at": when, "call_id": call_id, "inmate_id": inmate_id, "detail": body}
            outbox_id = self.journal.queue(db, "violation", payload, when)
            db.execute(
                "INSERT INTO rules_violations (id, call_id, inmate_id, kind, at, detail, outbox_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (vid, call_id, inmate_id, kind, when, json.dumps(body, sort_keys=True), outbox_id),
            )
        return vid


class Reports:
    """Device reports that are not violations: pulse dialing on the hookswitch, a hookflash, an attempt."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def add(
        self,
        kind: str,
        at: datetime,
        detail: Mapping[str, Any],
        call_id: str | None = None,
        inmate_id: str | None = None,
    ) -> str:
        rid = new_id()
        when = iso(at)
        body = dict(detail)
        with self.journal.transaction() as db:
            payload = {"id": rid, "at": when, "call_id": call_id, "inmate_id": inmate_id, "detail": body}
            outbox_id = self.journal.queue(db, kind, payload, when)
            db.execute(
                "INSERT INTO rules_reports (id, kind, call_id, inmate_id, at, detail, outbox_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (rid, kind, call_id, inmate_id, when, json.dumps(body, sort_keys=True), outbox_id),
            )
        return rid
