"""The language each inmate chose last on this device, kept locally and reported to the central server."""

from __future__ import annotations

from datetime import datetime

from firmware.rules.journal import Keeper, iso


class LanguagePreferences(Keeper):
    def remember(self, inmate_id: str, language: str, at: datetime) -> None:
        when = iso(at)
        with self.journal.transaction() as db:
            db.execute(
                "INSERT INTO rules_languages (inmate_id, language, at) VALUES (?, ?, ?)"
                " ON CONFLICT (inmate_id) DO UPDATE SET language = excluded.language, at = excluded.at",
                (inmate_id, language, when),
            )
            self.journal.queue(db, "language", {"inmate_id": inmate_id, "language": language, "at": when}, when)

    def of(self, inmate_id: str) -> str | None:
        db = self.journal.store.db
        row = db.execute("SELECT language FROM rules_languages WHERE inmate_id = ?", (inmate_id,)).fetchone()
        return row[0] if row else None
