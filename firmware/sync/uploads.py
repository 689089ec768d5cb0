"""The queue of files (call recordings) waiting to go to the central server over the network.

Kept apart from the session so that the call flow can queue a recording inside the transaction that commits
its call record, without loading the sync machinery.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from firmware.store import Store
from firmware.store.outbox import utc_now


def queue_blob_in(
    db: sqlite3.Connection, blob_id: str, kind: str, path: Path, meta: dict[str, str] | None = None
) -> None:
    """Queue a file inside the caller's transaction; queuing the same id again changes nothing."""
    db.execute(
        "INSERT OR IGNORE INTO sync_blobs_out (id, kind, path, meta, created_at) VALUES (?, ?, ?, ?, ?)",
        (blob_id, kind, str(path), json.dumps(meta or {}, sort_keys=True), utc_now()),
    )


def queue_blob(store: Store, blob_id: str, kind: str, path: Path, meta: dict[str, str] | None = None) -> None:
    """Queue a file (a call recording) for upload; it is sent over the network by the next sync sessions."""
    with store.transaction() as db:
        queue_blob_in(db, blob_id, kind, path, meta)
