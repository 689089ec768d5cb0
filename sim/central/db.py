"""The central server's SQLite database: facility data with a change sequence, and everything devices sent.

`data` holds one row per (dataset, key) with the change sequence of its last change; a deletion keeps the row
with value NULL (a tombstone) so that devices behind it learn of it. Every write to `data` takes the next
sequence number, so "what changed since N" is one indexed range query.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from firmware.store import private_file, transaction
from firmware.sync.downstream import Validator, default_validator, digest_bytes, digest_rows, row_hash
from firmware.sync.schema import DATASETS, OutboxRecord, Purchase, PurchaseResult

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS data (
    dataset TEXT NOT NULL, key TEXT NOT NULL, value TEXT, seq INTEGER NOT NULL, PRIMARY KEY (dataset, key));
CREATE INDEX IF NOT EXISTS data_seq ON data (seq);
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY, sync_key BLOB NOT NULL, enrolled_at TEXT NOT NULL,
    last_seen TEXT, cursor INTEGER NOT NULL DEFAULT 0, sessions INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS received (
    id TEXT PRIMARY KEY, device_id TEXT NOT NULL, kind TEXT NOT NULL, created_at TEXT NOT NULL,
    payload TEXT NOT NULL, received_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS received_device ON received (device_id, kind);
CREATE TABLE IF NOT EXISTS purchases (
    key TEXT PRIMARY KEY, device_id TEXT NOT NULL, account TEXT NOT NULL, amount_cents INTEGER NOT NULL,
    product TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL, balance_cents INTEGER, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reservations (
    device_id TEXT NOT NULL, account TEXT NOT NULL, reservation_id TEXT NOT NULL, held_cents INTEGER NOT NULL,
    at TEXT NOT NULL, PRIMARY KEY (device_id, account));
CREATE TABLE IF NOT EXISTS trust (account TEXT PRIMARY KEY, cents INTEGER NOT NULL CHECK (cents >= 0));
CREATE TABLE IF NOT EXISTS authority (id INTEGER PRIMARY KEY CHECK (id = 1), ca TEXT NOT NULL, server TEXT NOT NULL);
"""


class LoadError(ValueError):
    pass


def canonical(value: Any) -> str:
    """The one text of a value: the same as the device cache stores (sorted keys, no spaces)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Page:
    full: bool
    upto: int
    last: int
    more: bool
    items: dict[str, list[tuple[str, str | None]]]


class CentralDB:
    """One connection per thread; writers serialise on SQLite's own lock (BEGIN IMMEDIATE)."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            private_file(Path(self.path))
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=60)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self.db)

    # -- change sequence ---------------------------------------------------------------------------------

    def meta_int(self, name: str, default: int = 0) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return default if row is None else int(row[0])

    def head(self) -> int:
        return self.meta_int("head")

    def _next_seq(self, db: sqlite3.Connection) -> int:
        seq = self.meta_int("head") + 1
        db.execute("INSERT INTO meta (name, value) VALUES ('head', ?)"
                   " ON CONFLICT (name) DO UPDATE SET value = excluded.value", (str(seq),))
        return seq

    def _write(self, db: sqlite3.Connection, dataset: str, key: str, text: str | None) -> None:
        row = db.execute("SELECT value FROM data WHERE dataset = ? AND key = ?", (dataset, key)).fetchone()
        self._adjust_digest(db, [(dataset, key, row[0] if row else None, text)])
        db.execute(
            "INSERT INTO data (dataset, key, value, seq) VALUES (?, ?, ?, ?) ON CONFLICT (dataset, key)"
            " DO UPDATE SET value = excluded.value, seq = excluded.seq",
            (dataset, key, text, self._next_seq(db)),
        )

    def _adjust_digest(self, db: sqlite3.Connection, changes: list[tuple[str, str, str | None, str | None]]) -> None:
        """Keep the data's digest current as (dataset, key, old, new) changes are written."""
        row = db.execute("SELECT value FROM meta WHERE name = 'digest'").fetchone()
        total = int(row[0], 16) if row else 0
        for dataset, key, old, new in changes:
            if old is not None:
                total -= row_hash(dataset, key, old)
            if new is not None:
                total += row_hash(dataset, key, new)
        db.execute("INSERT INTO meta (name, value) VALUES ('digest', ?)"
                   " ON CONFLICT (name) DO UPDATE SET value = excluded.value", (digest_bytes(total).hex(),))

    def get(self, dataset: str, key: str) -> Any | None:
        row = self.db.execute("SELECT value FROM data WHERE dataset = ? AND key = ?", (dataset, key)).fetchone()
        return None if row is None or row[0] is None else json.loads(row[0])

    def put(self, dataset: str, key: str, value: Any | None) -> None:
        with self.transaction() as db:
            self._write(db, dataset, key, None if value is None else canonical(value))

    def load_dir(self, directory: Path, replace: bool = True) -> dict[str, int]:
        """Load DIR/<dataset>.jsonl files ({"key": ..., "value": {...}} per line); returns changes per dataset.

        With `replace`, a file is the whole dataset: keys missing from it are deleted."""
        files = {d: directory / f"{d}.jsonl" for d in DATASETS if (directory / f"{d}.jsonl").exists()}
        unknown = sorted(p.name for p in directory.glob("*.jsonl") if p.stem not in DATASETS)
        if unknown:
            raise LoadError(f"{directory}: unknown dataset file(s) {', '.join(unknown)}; datasets are "
                            + ", ".join(DATASETS))
        if not files:
            raise LoadError(f"{directory}: no dataset files (expected one of {', '.join(d + '.jsonl' for d in DATASETS)})")
        validate = default_validator()
        incoming = {dataset: _read_jsonl(path, dataset, validate) for dataset, path in files.items()}
        changes: dict[str, int] = {}
        with self.transaction() as db:
            seq = self.meta_int("head")
            rows: list[tuple[str, str, str | None, int]] = []
            deltas: list[tuple[str, str, str | None, str | None]] = []
            for dataset, records in incoming.items():
                existing = dict(db.execute("SELECT key, value FROM data WHERE dataset = ?", (dataset,)))
                count = 0
                for key, text in records.items():
                    if existing.get(key) != text:
                        seq += 1
                        rows.append((dataset, key, text, seq))
                        deltas.append((dataset, key, existing.get(key), text))
                        count += 1
                if replace:
                    for key, text in existing.items():
                        if text is not None and key not in records:
                            seq += 1
                            rows.append((dataset, key, None, seq))
                            deltas.append((dataset, key, text, None))
                            count += 1
                changes[dataset] = count
            self._adjust_digest(db, deltas)
            db.executemany(
                "INSERT INTO data (dataset, key, value, seq) VALUES (?, ?, ?, ?) ON CONFLICT (dataset, key)"
                " DO UPDATE SET value = excluded.value, seq = excluded.seq", rows)
            db.execute("INSERT INTO meta (name, value) VALUES ('head', ?)"
                       " ON CONFLICT (name) DO UPDATE SET value = excluded.value", (str(seq),))
        return changes

    def compact(self, keep: int) -> int:
        """Forget tombstones older than the last `keep` changes; a device behind them gets a full resync.
        Returns how many were removed."""
        with self.transaction() as db:
            horizon = max(self.meta_int("horizon"), self.head() - keep)
            removed = db.execute("DELETE FROM data WHERE value IS NULL AND seq <= ?", (horizon,)).rowcount
            db.execute("INSERT INTO meta (name, value) VALUES ('horizon', ?)"
                       " ON CONFLICT (name) DO UPDATE SET value = excluded.value", (str(horizon),))
        return int(removed)

    def page(self, since: int, after: int, upto: int, max_items: int) -> Page:
        head = self.head()
        full = since == 0 or since < self.meta_int("horizon") or since > head
        if upto == 0 or upto > head:
            upto = head
        low = after if full else max(since, after)
        where = "seq > ? AND seq <= ?" + (" AND value IS NOT NULL" if full else "")
        rows = self.db.execute(
            f"SELECT dataset, key, value, seq FROM data WHERE {where} ORDER BY seq LIMIT ?", (low, upto, max_items)
        ).fetchall()
        items: dict[str, list[tuple[str, str | None]]] = {}
        for dataset, key, value, _seq in rows:
            items.setdefault(dataset, []).append((key, value))
        last = rows[-1][3] if rows else upto
        return Page(full, upto, last, len(rows) == max_items and last < upto, items)

    def digest(self) -> tuple[int, bytes]:
        """The head and the digest of the live data at that head, read together."""
        self.db.execute("BEGIN")
        try:
            head = self.head()
            row = self.db.execute("SELECT value FROM meta WHERE name = 'digest'").fetchone()
        finally:
            self.db.execute("COMMIT")
        return head, bytes.fromhex(row[0]) if row else digest_bytes(0)

    def full_digest(self) -> bytes:
        """The digest recomputed from every live row (checks the kept one)."""
        return digest_rows(self.db.execute("SELECT dataset, key, value FROM data WHERE value IS NOT NULL"))

    # -- devices -----------------------------------------------------------------------------------------

    def enroll(self, device_id: str, sync_key: bytes) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO devices (device_id, sync_key, enrolled_at) VALUES (?, ?, ?) ON CONFLICT (device_id)"
                " DO UPDATE SET sync_key = excluded.sync_key", (device_id, sync_key, now()))

    def key_for(self, device_id: str) -> bytes | None:
        row = self.db.execute("SELECT sync_key FROM devices WHERE device_id = ?", (device_id,)).fetchone()
        return None if row is None else bytes(row[0])

    def seen(self, device_id: str, cursor: int | None = None) -> None:
        with self.transaction() as db:
            db.execute("UPDATE devices SET last_seen = ?, sessions = sessions + (? IS NULL),"
                       " cursor = coalesce(?, cursor) WHERE device_id = ?", (now(), cursor, cursor, device_id))

    @property
    def ca_key_path(self) -> Path:
        """The CA's private key: its own 0600 file beside the database, never a row in it."""
        return Path(self.path + ".ca-key.pem")

    def authority(self) -> tuple[str, str] | None:
        """(the CA as JSON {cert_pem, key_pem}, the server's credentials as JSON), or None before the first."""
        row = self.db.execute("SELECT ca, server FROM authority WHERE id = 1").fetchone()
        if row is None:
            return None
        ca = json.loads(row[0])
        if "key_pem" not in ca:
            ca["key_pem"] = self.ca_key_path.read_text(encoding="ascii")
        return json.dumps(ca), row[1]

    def set_authority(self, ca: str, server: str) -> None:
        pair = json.loads(ca)
        key = self.ca_key_path
        tmp = key.with_name(key.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(pair.pop("key_pem"))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, key)
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO authority (id, ca, server) VALUES (1, ?, ?)",
                       (json.dumps(pair), server))

    # -- upstream ----------------------------------------------------------------------------------------

    def receive(self, device_id: str, records: list[OutboxRecord]) -> tuple[list[str], list[tuple[str, str]]]:
        """Store records once each (by id), applying ledger entries and blocks on first arrival only."""
        accepted: list[str] = []
        rejected: list[tuple[str, str]] = []
        with self.transaction() as db:
            for record in records:
                try:
                    payload = json.loads(record.payload)
                except ValueError:
                    payload = None
                if not isinstance(payload, dict):
                    rejected.append((record.id, "payload is not a JSON object"))
                    continue
                cursor = db.execute(
                    "INSERT OR IGNORE INTO received (id, device_id, kind, created_at, payload, received_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (record.id, device_id, record.kind, record.created_at, record.payload, now()))
                if cursor.rowcount == 1:
                    self._apply_record(db, device_id, record.kind, payload)
                accepted.append(record.id)
        return accepted, rejected

    def _apply_record(self, db: sqlite3.Connection, device_id: str, kind: str, payload: dict[str, Any]) -> None:
        """Effects of a record on the facility data, on its first arrival only (docs/sync-protocol.md 9).

        Ledger entries are the rules' (firmware/rules/records.py): a `charge` spends `amount_cents` from the
        account's balance and from this device's reservation on it; `reserve` and `release` are the device's own
        holds for a call in progress and change nothing here. A `block` becomes a `blocks` row for every device."""
        account_key = payload.get("account")
        if kind == "ledger" and payload.get("kind") == "charge" and isinstance(account_key, str):
            amount = int(payload.get("amount_cents", 0))
            account = self._account(db, account_key)
            if account is not None and "balance_cents" in account:
                account["balance_cents"] = int(account["balance_cents"]) - amount
                self._write(db, "accounts", account_key, canonical(account))
            db.execute("UPDATE reservations SET held_cents = max(0, held_cents - ?) WHERE device_id = ? AND account = ?",
                       (amount, device_id, account_key))
        elif kind == "block" and isinstance(payload.get("number"), str):
            block = {"created_at": payload.get("at"), "source": str(payload.get("source") or "called_party")}
            self._write(db, "blocks", payload["number"], canonical(block))

    def _account(self, db: sqlite3.Connection, account: str) -> dict[str, Any] | None:
        row = db.execute("SELECT value FROM data WHERE dataset = 'accounts' AND key = ?", (account,)).fetchone()
        if row is None or row[0] is None:
            return None
        value = json.loads(row[0])
        return value if isinstance(value, dict) else None

    # -- purchases and reservations -----------------------------------------------------------------------

    def set_trust(self, account: str, cents: int) -> None:
        """The inmate's trust (commissary) balance: kept on the server only, never sent to devices."""
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO trust (account, cents) VALUES (?, ?)", (account, cents))

    def purchase(self, device_id: str, purchase: Purchase) -> PurchaseResult:
        """Apply a purchase once per key: trust funds move to the phone debit balance (`accounts`,
        key "debit:<inmate>"), or it is rejected; the same key again gets the first answer."""
        with self.transaction() as db:
            known = self.purchase_result(purchase.key)
            if known.status != "unknown":
                return known
            debit_key = f"debit:{purchase.account}"
            account = self._account(db, debit_key)
            row = db.execute("SELECT cents FROM trust WHERE account = ?", (purchase.account,)).fetchone()
            reason = ""
            if purchase.amount_cents <= 0:
                reason = "amount_not_positive"
            elif account is None or row is None:
                reason = "unknown_account"
            elif int(row[0]) < purchase.amount_cents:
                reason = "insufficient_funds"
            balance = None
            if reason == "" and account is not None:
                db.execute("UPDATE trust SET cents = cents - ? WHERE account = ?", (purchase.amount_cents, purchase.account))
                account["balance_cents"] = int(account.get("balance_cents", 0)) + purchase.amount_cents
                balance = account["balance_cents"]
                self._write(db, "accounts", debit_key, canonical(account))
            status = "rejected" if reason else "applied"
            db.execute("INSERT INTO purchases (key, device_id, account, amount_cents, product, status, reason,"
                       " balance_cents, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (purchase.key, device_id, purchase.account, purchase.amount_cents, purchase.product, status,
                        reason, balance, now()))
        return PurchaseResult(key=purchase.key, status=status, reason=reason, balance_cents=balance)

    def purchase_result(self, key: str) -> PurchaseResult:
        row = self.db.execute("SELECT status, reason, balance_cents FROM purchases WHERE key = ?", (key,)).fetchone()
        if row is None:
            return PurchaseResult(key=key, status="unknown", reason="no purchase with this key")
        return PurchaseResult(key=key, status=row[0], reason=row[1], balance_cents=row[2])

    def reserve(self, device_id: str, account: str, wanted: int) -> tuple[str, int]:
        """Hold part of a balance for one device's offline use; all holds together never exceed the balance."""
        with self.transaction() as db:
            value = self._account(db, account) or {}
            balance = int(value.get("balance_cents", 0))
            others = db.execute("SELECT coalesce(sum(held_cents), 0) FROM reservations WHERE account = ?"
                                " AND device_id != ?", (account, device_id)).fetchone()[0]
            granted = max(0, min(wanted, balance - int(others)))
            reservation_id = uuid.uuid4().hex
            db.execute("INSERT OR REPLACE INTO reservations (device_id, account, reservation_id, held_cents, at)"
                       " VALUES (?, ?, ?, ?, ?)", (device_id, account, reservation_id, granted, now()))
        return reservation_id, granted

    def received_count(self, device_id: str) -> int:
        return int(self.db.execute("SELECT count(*) FROM received WHERE device_id = ?", (device_id,)).fetchone()[0])


def _read_jsonl(path: Path, dataset: str, validate: Validator | None) -> dict[str, str]:
    records: dict[str, str] = {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise LoadError(f"{path}:{number}: not JSON: {exc}") from None
            if not isinstance(record, dict) or not isinstance(record.get("key"), str) or "value" not in record:
                raise LoadError(f'{path}:{number}: expected {{"key": "...", "value": {{...}}}}')
            if record["key"] in records:
                raise LoadError(f"{path}:{number}: key {record['key']!r} appears twice")
            if validate is not None:
                try:
                    validate(dataset, record["key"], record["value"])
                except ValueError as exc:
                    raise LoadError(f"{path}:{number}: {exc}") from None
            records[record["key"]] = canonical(record["value"])
    return records
