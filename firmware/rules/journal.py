"""The one transaction that makes a record and its outbox item atomic: every record module writes through it.

A record the central server must hear of (a CDR, a ledger entry, a block, a violation, a report, a lockout, a
language choice) is written with its outbox item inside ONE store transaction, so a power cut or a full disk
leaves both or neither (tests/rules/test_records.py, "commit together or not at all"). Nothing here reads a
clock: every time comes from the caller.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from firmware.rules import schedule
from firmware.store import Store
from firmware.store.outbox import Outbox

#: A row whose outbox item the central server has not acknowledged yet.
UNACKED = "EXISTS (SELECT 1 FROM outbox o WHERE o.id = {table}.outbox_id AND o.acked_at IS NULL)"


def iso(moment: datetime) -> str:
    """UTC, millisecond ISO text: sorts as time does, so SQL can compare it."""
    return schedule.require_aware(moment).astimezone(UTC).isoformat(timespec="milliseconds")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


class Journal:
    """The device's records and their way to the central server: one store, one outbox, one device id."""

    def __init__(self, store: Store, device_id: str) -> None:
        self.store = store
        self.device_id = device_id
        self.outbox = Outbox(store)

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """All or nothing: write the record's rows and `queue` its item inside this."""
        return self.store.transaction()

    def queue(self, db: sqlite3.Connection, kind: str, payload: dict[str, Any], at: str) -> str:
        """The record's outbox item, stamped with this device, inside the caller's transaction; its id."""
        return self.outbox.add(db, kind, {**payload, "device_id": self.device_id}, at)

    def record(
        self, db: sqlite3.Connection, table: str, row: dict[str, Any], kind: str, payload: dict[str, Any], at: str
    ) -> str:
        """`row` in `table` (names from code, never from input) with its outbox item, in the caller's
        transaction: the row keeps the item's id, so a record knows whether the server has it."""
        outbox_id = self.queue(db, kind, payload, at)
        columns = [*row, "outbox_id"]
        db.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            (*row.values(), outbox_id),
        )
        return outbox_id


class Keeper:
    """One job's records (blocks, ledger, lockouts, ...), written through the device's one Journal."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
