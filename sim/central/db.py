"""The central server's database: each facility's data with its own change sequence, and what devices sent.

`data` holds one row per (facility, dataset, key) with the change sequence of its last change; a deletion keeps
the row with value NULL (a tombstone) so that devices behind it learn of it. Every write to a facility's data
takes that facility's next sequence number (its `facilities` row, locked for the write), so "what changed since
N" is one indexed range query and facilities never wait for each other. A device belongs to one facility and is
served only that facility's data. SQLite or PostgreSQL: sim/central/backend.py. Its parts: loading dataset files
(sim/central/dataset_files.py) and money (sim/central/money_book.py).
"""

from __future__ import annotations

import json
import os
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from firmware.rules import pin_proof
from firmware.rules.pin_lockouts import account_lock_key
from firmware.store import canonical, private_file
from firmware.store.outbox import utc_now as now
from firmware.sync.downstream import digest_bytes, digest_rows, row_hash
from firmware.sync.schema import OutboxRecord
from sim.central.backend import Connection, connect, describe
from sim.central.dataset_files import DatasetFiles, LoadError
from sim.central.migrations import DEFAULT_FACILITY, migrate, require_current
from sim.central.money_book import MoneyBook
from sim.central.pin_guard import apply_pin_record
from sim.central.validation import MAX_PAYLOAD, block_value, split_records

#: The reference central server's database file in its directory.
CENTRAL_FILE = "central.sqlite"


@dataclass(frozen=True)
class Page:
    full: bool
    upto: int
    last: int
    more: bool
    items: dict[str, list[tuple[str, str | None]]]


class CentralDB(DatasetFiles, MoneyBook):
    """One connection, scoped to one facility (`for_facility` gives another facility's view of it).

    Writers of one facility serialise on its `facilities` row (SQLite: on the file's write lock).
    The CA's private key is never a row: it is its own 0600 file, `ca_key` (SQLite: beside the database)."""

    def __init__(
        self,
        target: Path | str,
        facility: str = DEFAULT_FACILITY,
        migrate_sqlite: bool = True,
        ca_key: Path | None = None,
    ) -> None:
        self.target = target
        self.facility = facility
        if isinstance(target, Path) or (isinstance(target, str) and "://" not in target and target != ":memory:"):
            Path(target).parent.mkdir(parents=True, exist_ok=True)  # `--db var/central.sqlite` on a fresh checkout
            private_file(Path(target))
            ca_key = ca_key or Path(str(target) + ".ca-key.pem")
        self._ca_key = ca_key
        self.db: Connection = connect(target)
        if self.db.dialect == "sqlite" and migrate_sqlite:
            migrate(self.db)
        else:
            require_current(self.db, describe(target))
        self._lock_sql = " FOR UPDATE" if self.db.dialect == "postgresql" else ""

    @property
    def dialect(self) -> str:
        return self.db.dialect

    def for_facility(self, facility: str) -> CentralDB:
        view = object.__new__(CentralDB)
        view.__dict__.update(self.__dict__)
        view.facility = facility
        return view

    def close(self) -> None:
        self.db.close()

    def transaction(self) -> AbstractContextManager[Connection]:
        return self.db.transaction()

    # -- the facility's change sequence ----------------------------------------------------------------------

    def _facility_row(self, db: Connection, lock: bool = False) -> tuple[int, str, int]:
        row = db.execute(
            "SELECT head, digest, horizon FROM facilities WHERE id = ?" + (self._lock_sql if lock else ""),
            (self.facility,),
        ).fetchone()
        if row is None and lock:
            db.execute("INSERT INTO facilities (id) VALUES (?) ON CONFLICT (id) DO NOTHING", (self.facility,))
            return self._facility_row(db, lock)
        return (0, "", 0) if row is None else (int(row[0]), str(row[1]), int(row[2]))

    def head(self) -> int:
        return self._facility_row(self.db)[0]

    def horizon(self) -> int:
        return self._facility_row(self.db)[2]

    def _advance(self, db: Connection, changes: list[tuple[str, str, str | None, str | None]]) -> int:
        """Lock the facility, take len(changes) sequence numbers and fold (dataset, key, old, new) changes into
        the kept digest; returns the head before them."""
        head, digest, _horizon = self._facility_row(db, lock=True)
        total = int(digest, 16) if digest else 0
        for dataset, key, old, new in changes:
            if old is not None:
                total -= row_hash(dataset, key, old)
            if new is not None:
                total += row_hash(dataset, key, new)
        db.execute(
            "UPDATE facilities SET head = ?, digest = ? WHERE id = ?",
            (head + len(changes), digest_bytes(total).hex(), self.facility),
        )
        return head

    def _write(self, db: Connection, dataset: str, key: str, text: str | None) -> None:
        self._facility_row(db, lock=True)  # lock before reading the row the digest changes by
        row = db.execute(
            "SELECT value FROM data WHERE facility = ? AND dataset = ? AND key = ?", (self.facility, dataset, key)
        ).fetchone()
        head = self._advance(db, [(dataset, key, row[0] if row else None, text)])
        db.execute(
            "INSERT INTO data (facility, dataset, key, value, seq) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (facility, dataset, key) DO UPDATE SET value = excluded.value, seq = excluded.seq",
            (self.facility, dataset, key, text, head + 1),
        )

    def get(self, dataset: str, key: str) -> Any | None:
        row = self.db.execute(
            "SELECT value FROM data WHERE facility = ? AND dataset = ? AND key = ?", (self.facility, dataset, key)
        ).fetchone()
        return None if row is None or row[0] is None else json.loads(row[0])

    def put(self, dataset: str, key: str, value: Any | None) -> None:
        with self.transaction() as db:
            self._write(db, dataset, key, None if value is None else canonical(value))

    def compact(self, keep: int) -> int:
        """Forget tombstones older than the last `keep` changes; a device behind them gets a full resync.
        Returns how many were removed."""
        with self.transaction() as db:
            head, _digest, horizon = self._facility_row(db, lock=True)
            horizon = max(horizon, head - keep)
            removed = db.execute(
                "DELETE FROM data WHERE facility = ? AND value IS NULL AND seq <= ?", (self.facility, horizon)
            ).rowcount
            db.execute("UPDATE facilities SET horizon = ? WHERE id = ?", (horizon, self.facility))
        return int(removed)

    def page(self, since: int, after: int, upto: int, max_items: int) -> Page:
        head, _digest, horizon = self._facility_row(self.db)
        full = since == 0 or since < horizon or since > head
        if upto == 0 or upto > head:
            upto = head
        low = after if full else max(since, after)
        where = "facility = ? AND seq > ? AND seq <= ?" + (" AND value IS NOT NULL" if full else "")
        rows = self.db.execute(
            f"SELECT dataset, key, value, seq FROM data WHERE {where} ORDER BY seq LIMIT ?",
            (self.facility, low, upto, max_items),
        ).fetchall()
        items: dict[str, list[tuple[str, str | None]]] = {}
        for dataset, key, value, _seq in rows:
            items.setdefault(dataset, []).append((key, value))
        last = int(rows[-1][3]) if rows else upto
        return Page(full, upto, last, len(rows) == max_items and last < upto, items)

    def digest(self) -> tuple[int, bytes]:
        """The head and the digest of the live data at that head, read together (one row)."""
        head, digest, _horizon = self._facility_row(self.db)
        return head, bytes.fromhex(digest) if digest else digest_bytes(0)

    def full_digest(self) -> bytes:
        """The digest recomputed from every live row (checks the kept one)."""
        return digest_rows(
            self.db.execute(
                "SELECT dataset, key, value FROM data WHERE facility = ? AND value IS NOT NULL", (self.facility,)
            )
        )

    # -- devices -----------------------------------------------------------------------------------------

    def enroll(self, device_id: str, sync_key: bytes) -> None:
        """Enrol a device in this facility (moving it here if it was enrolled elsewhere; back in service with its
        new key if it was retired)."""
        with self.transaction() as db:
            db.execute("INSERT INTO facilities (id) VALUES (?) ON CONFLICT (id) DO NOTHING", (self.facility,))
            db.execute(
                "INSERT INTO devices (device_id, facility, sync_key, enrolled_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (device_id) DO UPDATE SET sync_key = excluded.sync_key, facility = excluded.facility,"
                " retired_at = ''",
                (device_id, self.facility, sync_key, now()),
            )

    def retire(self, device_id: str) -> bool:
        """Refuse this device's sessions from now on (stolen, torn off the wall, replaced); its records stay.
        False if no such device is enrolled in service."""
        with self.transaction() as db:
            done = db.execute(
                "UPDATE devices SET retired_at = ? WHERE device_id = ? AND retired_at = ''", (now(), device_id)
            )
            return bool(done.rowcount)

    def key_for(self, device_id: str) -> bytes | None:
        """The sync key of an enrolled device in service (None for a retired one: its sessions are refused)."""
        row = self.db.execute(
            "SELECT sync_key FROM devices WHERE device_id = ? AND retired_at = ''", (device_id,)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def facility_of(self, device_id: str) -> str | None:
        row = self.db.execute("SELECT facility FROM devices WHERE device_id = ?", (device_id,)).fetchone()
        return None if row is None else str(row[0])

    def seen(self, device_id: str, cursor: int | None = None) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE devices SET last_seen = ?, sessions = sessions + (CASE WHEN ? THEN 1 ELSE 0 END),"
                " cursor = coalesce(CAST(? AS BIGINT), cursor) WHERE device_id = ?",
                (now(), cursor is None, cursor, device_id),
            )

    @property
    def ca_key_path(self) -> Path:
        """The CA's private key: its own 0600 file, never a row in the database."""
        if self._ca_key is None:
            raise LoadError(
                f"{describe(self.target)}: the CA's private key needs a file of its own: give --ca-key FILE"
            )
        return self._ca_key

    def authority(self) -> tuple[str, str] | None:
        """(the CA as JSON {cert_pem, key_pem}, the server's credentials as JSON), or None before the first."""
        row = self.db.execute("SELECT ca, server FROM authority WHERE id = 1").fetchone()
        if row is None:
            return None
        ca = json.loads(row[0])
        if "key_pem" not in ca and self._ca_key is not None and self._ca_key.is_file():
            ca["key_pem"] = self._ca_key.read_text(encoding="ascii")
        return json.dumps(ca), row[1]

    def set_authority(self, ca: str, server: str) -> None:
        pair = json.loads(ca)
        key = self.ca_key_path
        key.parent.mkdir(parents=True, exist_ok=True)
        tmp = key.with_name(key.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(pair.pop("key_pem"))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, key)
        with self.transaction() as db:
            db.execute(
                "INSERT INTO authority (id, ca, server) VALUES (1, ?, ?) ON CONFLICT (id)"
                " DO UPDATE SET ca = excluded.ca, server = excluded.server",
                (json.dumps(pair), server),
            )

    # -- upstream ----------------------------------------------------------------------------------------

    def receive(self, device_id: str, records: list[OutboxRecord]) -> tuple[list[str], list[tuple[str, str]]]:
        """Store records once each (by device and id), applying ledger entries and blocks on first arrival only.

        Every record is checked first (sim/central/validation.py). A refused one is kept in `refused` with its
        reason and acknowledged too, so the device stops sending it: sending it again cannot change the answer."""
        good, bad = split_records(records)
        accepted: list[str] = []
        with self.transaction() as db:
            for record, payload in good:
                refusal = self._charge_refusal(db, device_id, record.id, record.kind, payload)
                if refusal:
                    bad.append((record, refusal))
                    continue
                cursor = db.execute(
                    "INSERT INTO received (device_id, id, facility, kind, created_at, payload, received_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (device_id, record.id, self.facility, record.kind, record.created_at, record.payload, now()),
                )
                if cursor.rowcount == 1:
                    self._apply_record(db, device_id, record.kind, payload)
                accepted.append(record.id)
            for record, reason in bad:
                db.execute(
                    "INSERT INTO refused (device_id, id, kind, reason, payload, refused_at)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (device_id, record.id, record.kind, reason, record.payload[:MAX_PAYLOAD], now()),
                )
                accepted.append(record.id)
        return accepted, [(record.id, reason) for record, reason in bad]

    def proof_refusal(self, db: Connection, inmate_id: str, proof: str, message: bytes) -> str:
        """Why a device's request for this inmate is refused for its proof of PIN, "" when the proof holds
        (firmware/rules/pin_proof.py): checked against the `pin_proof_key` of the inmate's entry in the roster."""
        row = db.execute(
            "SELECT value FROM data WHERE facility = ? AND dataset = 'inmates' AND key = ?", (self.facility, inmate_id)
        ).fetchone()
        inmate = json.loads(row[0]) if row is not None and row[0] is not None else None
        key = inmate.get("pin_proof_key") if isinstance(inmate, dict) else None
        return pin_proof.refusal(key if isinstance(key, str) else None, proof, message)

    def _charge_refusal(
        self, db: Connection, device_id: str, record_id: str, kind: str, payload: dict[str, Any]
    ) -> str:
        """Why a call's charge is refused ("" when it is taken): it must carry the proof of PIN of the inmate who
        placed the call (firmware/rules/pin_proof.py `call_message`), name that inmate's own account when it is a
        debit account, and be the call's first charge from this device. A device's word alone charges nobody."""
        if kind != "ledger" or payload.get("kind") != "charge":
            return ""
        if db.execute("SELECT 1 FROM received WHERE device_id = ? AND id = ?", (device_id, record_id)).fetchone():
            return ""  # the same record again: acknowledged, applied once already
        fields = [payload.get(k) for k in ("call_id", "inmate_id", "account", "proof")]
        if not all(isinstance(v, str) for v in fields):
            return "pin_proof"
        call_id, inmate_id, account, proof = cast(list[str], fields)
        if account.startswith("debit:") and account != f"debit:{inmate_id}":
            return "pin_proof"
        refused = self.proof_refusal(
            db, inmate_id, proof, pin_proof.call_message(device_id, call_id, inmate_id, account)
        )
        if refused:
            return refused
        cursor = db.execute(
            "INSERT INTO call_charges (facility, device_id, call_id, record_id) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (self.facility, device_id, call_id, record_id),
        )
        return "" if cursor.rowcount == 1 else "call_charged"

    def refused_count(self, device_id: str) -> int:
        return int(self.db.execute("SELECT count(*) FROM refused WHERE device_id = ?", (device_id,)).fetchone()[0])

    def _apply_record(self, db: Connection, device_id: str, kind: str, payload: dict[str, Any]) -> None:
        """Effects of a record on the facility data, on its first arrival only (docs/sync-protocol.md 9).

        Ledger entries are the rules' (firmware/rules/records.py): a `charge` spends `amount_cents` from the
        account's balance and from this device's reservation on it; `reserve` and `release` are the device's own
        holds for a call in progress and change nothing here. A `block` becomes a `blocks` row for every device.
        A `pin_failure` or `lockout` naming an inmate adds to that account's lock across devices (pin_guard.py)."""
        account_key = payload.get("account")
        if kind == "ledger" and payload.get("kind") == "charge" and isinstance(account_key, str):
            amount = int(payload["amount_cents"])
            account = self._account(db, account_key)
            if account is not None and "balance_cents" in account:
                account["balance_cents"] = int(account["balance_cents"]) - amount
                self._write(db, "accounts", account_key, canonical(account))
            db.execute(
                "UPDATE reservations SET held_cents = CASE WHEN held_cents > ? THEN held_cents - ? ELSE 0 END"
                " WHERE device_id = ? AND account = ?",
                (amount, amount, device_id, account_key),
            )
        elif kind in ("pin_failure", "lockout"):  # an account's failures add up across devices
            lock = apply_pin_record(db, self.facility, kind, payload, datetime.now(UTC))
            if lock is not None:
                self._write(db, "keys", account_lock_key(str(payload["inmate_id"])), lock)
        elif kind == "block" and isinstance(payload.get("number"), str):
            self._write(db, "blocks", payload["number"], canonical(block_value(payload)))

    def _account(self, db: Connection, account: str) -> dict[str, Any] | None:
        row = db.execute(
            "SELECT value FROM data WHERE facility = ? AND dataset = 'accounts' AND key = ?", (self.facility, account)
        ).fetchone()
        if row is None or row[0] is None:
            return None
        value = json.loads(row[0])
        return value if isinstance(value, dict) else None

    def received_count(self, device_id: str) -> int:
        return int(self.db.execute("SELECT count(*) FROM received WHERE device_id = ?", (device_id,)).fetchone()[0])
