"""The device's small sync state (cursor, staged pull), one named value per row in sync_state."""

from __future__ import annotations

import sqlite3

from firmware.store import Store


def get_int(store: Store, name: str, default: int = 0) -> int:
    row = store.db.execute("SELECT value FROM sync_state WHERE name = ?", (name,)).fetchone()
    return default if row is None else int(row[0])


def get_text(store: Store, name: str, default: str = "") -> str:
    row = store.db.execute("SELECT value FROM sync_state WHERE name = ?", (name,)).fetchone()
    return default if row is None else str(row[0])


def put(db: sqlite3.Connection, name: str, value: int | str) -> None:
    db.execute(
        "INSERT INTO sync_state (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (name, str(value)),
    )


def delete(db: sqlite3.Connection, *names: str) -> None:
    db.executemany("DELETE FROM sync_state WHERE name = ?", [(n,) for n in names])
