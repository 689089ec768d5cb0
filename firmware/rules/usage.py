"""How much an inmate has called: the central server's count plus this device's calls it has not confirmed."""

from __future__ import annotations

from datetime import datetime

from firmware.rules import schedule
from firmware.rules.authorize import Usage
from firmware.rules.datasets import Inmate
from firmware.rules.facility import FacilityRules
from firmware.rules.journal import UNACKED, Journal, iso, parse_iso


class UsageCounts:
    def __init__(self, journal: Journal, rules: FacilityRules) -> None:
        self.journal = journal
        self.rules = rules

    def count(self, inmate_id: str, inmate: Inmate, now: datetime) -> Usage:
        """The server's count plus this device's connected calls the server has not acknowledged yet."""
        db = self.journal.store.db
        day_start, day_end = (iso(t) for t in schedule.day_bounds(now, self.rules))
        month_start, month_end = (iso(t) for t in schedule.month_bounds(now, self.rules))
        unacked = UNACKED.format(table="rules_cdr")
        calls_today, minutes_month = db.execute(
            "SELECT coalesce(sum(connected_at >= ? AND connected_at < ?), 0),"
            " coalesce(sum(CASE WHEN connected_at >= ? AND connected_at < ? THEN billed_minutes ELSE 0 END), 0)"
            f" FROM rules_cdr WHERE inmate_id = ? AND connected_at IS NOT NULL AND {unacked}",
            (day_start, day_end, month_start, month_end, inmate_id),
        ).fetchone()
        last_local = db.execute(
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
        db = self.journal.store.db
        return db.execute("SELECT 1 FROM rules_free_calls WHERE number = ?", (number,)).fetchone() is not None
