"""The device's copy of central data (roster, lists, blocks, accounts, rates, rules), kept by dataset and key.

Sync writes it opaquely (a JSON value per key, with the server's change sequence); each reader validates the
values of its own dataset with its own schema. A dataset's schema lives with the code that uses it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

from firmware.store import Store, canonical


class CentralCache:
    def __init__(self, store: Store) -> None:
        self.store = store

    def put(self, db: sqlite3.Connection, dataset: str, key: str, value: Any, seq: int) -> None:
        db.execute(
            "INSERT INTO central_cache (dataset, key, value, seq) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (dataset, key) DO UPDATE SET value = excluded.value, seq = excluded.seq",
            (dataset, key, canonical(value), seq),
        )

    def delete(self, db: sqlite3.Connection, dataset: str, key: str) -> None:
        db.execute("DELETE FROM central_cache WHERE dataset = ? AND key = ?", (dataset, key))

    def clear(self, db: sqlite3.Connection, dataset: str | None = None) -> None:
        if dataset is None:
            db.execute("DELETE FROM central_cache")
        else:
            db.execute("DELETE FROM central_cache WHERE dataset = ?", (dataset,))

    def get(self, dataset: str, key: str) -> Any | None:
        row = self.store.db.execute(
            "SELECT value FROM central_cache WHERE dataset = ? AND key = ?", (dataset, key)
        ).fetchone()
        return None if row is None else json.loads(row[0])

    def items(self, dataset: str) -> Iterator[tuple[str, Any]]:
        for key, value in self.store.db.execute(
            "SELECT key, value FROM central_cache WHERE dataset = ? ORDER BY key", (dataset,)
        ):
            yield key, json.loads(value)

    def count(self, dataset: str) -> int:
        return int(
            self.store.db.execute("SELECT count(*) FROM central_cache WHERE dataset = ?", (dataset,)).fetchone()[0]
        )
