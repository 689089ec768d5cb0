"""What happened on the device that the central server must know besides calls: blocks, violations, reports.

Each is written with its outbox item in one transaction (firmware/rules/journal.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from firmware.ids import new_id
from firmware.rules.journal import Keeper, iso


def _stored(payload: dict[str, Any]) -> dict[str, Any]:
    """The row for a payload with a `detail` mapping: the detail as sorted JSON text."""
    return {**payload, "detail": json.dumps(payload["detail"], sort_keys=True)}


class Blocks(Keeper):
    """Numbers blocked on this device (a called party who pressed the block key), before the server knows."""

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
            row = {"number": number, "at": when, "source": source, "call_id": call_id, "inmate_id": inmate_id}
            self.journal.record(db, "rules_blocks", row, "block", row, when)
            return True

    def blocked(self, number: str) -> bool:
        db = self.journal.store.db
        return db.execute("SELECT 1 FROM rules_blocks WHERE number = ?", (number,)).fetchone() is not None


class Violations(Keeper):
    """Conduct violations against an inmate's PIN (three-way attempt, ...); a call's CDR lists its own."""

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
            self.journal.record(db, "rules_violations", _stored(payload), "violation", payload, when)
        return vid


class Reports(Keeper):
    """Device reports that are not violations: pulse dialing on the hookswitch, a hookflash, an attempt."""

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
            self.journal.record(db, "rules_reports", _stored({**payload, "kind": kind}), kind, payload, when)
        return rid
