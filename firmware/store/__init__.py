"""The durable local store: one SQLite file, written before anything is acknowledged to anyone.

WAL mode with synchronous=FULL: a committed transaction survives a power cut. Each subsystem owns its tables
through named migrations (firmware/store/migrations.py), applied once each, in order.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from firmware.store.migrations import MIGRATIONS


def canonical(value: Any) -> str:
    """The one text of a value (sorted keys, no spaces): what the device's cache and outbox store and the central
    server keeps and hashes, so both sides' texts of one value are equal."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """All or nothing: BEGIN IMMEDIATE so that a writer never fails half way on a lock."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class StoreError(RuntimeError):
    pass


def private_file(path: Path) -> None:
    """Create `path` readable by its owner only (0600), or narrow an existing one: SQLite gives its -wal and -shm
    files the database file's mode, so the store, its journal and its shared memory all stay private."""
    # Never open an existing database file here: closing any descriptor of a file drops every POSIX lock this
    # process holds on it, the locks SQLite's other connections in the process rely on (a "disk I/O error" in WAL).
    try:
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:  # made meanwhile by another connection: narrow it below
            mode = os.stat(path).st_mode & 0o777
        else:
            return
    if mode != 0o600:
        os.chmod(path, 0o600)


class Store:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            private_file(Path(self.path))
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"store {self.path}: {exc}") from exc
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.row_factory = sqlite3.Row
        self._migrate()

    def _migrate(self) -> None:
        self.db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY)")
        applied = {row[0] for row in self.db.execute("SELECT name FROM schema_migrations")}
        for name, sql in MIGRATIONS:
            if name in applied:
                continue
            with self.transaction() as db:
                for statement in filter(str.strip, sql.split(";")):
                    db.execute(statement)
                db.execute("INSERT INTO schema_migrations (name) VALUES (?)", (name,))

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self.db)

    def close(self) -> None:
        self.db.close()
