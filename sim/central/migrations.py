"""The central database's schema, as numbered migrations for SQLite and PostgreSQL.

Every facility's data, change sequence, devices and records carry its id (a tenant): `facilities` holds each
facility's head, digest and tombstone horizon in a row of its own, so two facilities never wait for each other's
writes. Append only: never edit a migration that has shipped.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sim.central.backend import BackendError, Connection

#: The facility of a server that serves one (the embedded SQLite default, and data from before facilities).
DEFAULT_FACILITY = "default"

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE facilities (
    id TEXT PRIMARY KEY, head {int} NOT NULL DEFAULT 0, digest TEXT NOT NULL DEFAULT '',
    horizon {int} NOT NULL DEFAULT 0);
CREATE TABLE data (
    facility TEXT NOT NULL, dataset TEXT NOT NULL, key TEXT NOT NULL, value TEXT, seq {int} NOT NULL,
    PRIMARY KEY (facility, dataset, key));
CREATE INDEX data_seq ON data (facility, seq);
CREATE TABLE devices (
    device_id TEXT PRIMARY KEY, facility TEXT NOT NULL, sync_key {blob} NOT NULL, enrolled_at TEXT NOT NULL,
    last_seen TEXT, cursor {int} NOT NULL DEFAULT 0, sessions {int} NOT NULL DEFAULT 0);
CREATE TABLE received (
    device_id TEXT NOT NULL, id TEXT NOT NULL, facility TEXT NOT NULL, kind TEXT NOT NULL,
    created_at TEXT NOT NULL, payload TEXT NOT NULL, received_at TEXT NOT NULL, PRIMARY KEY (device_id, id));
CREATE INDEX received_kind ON received (facility, kind);
CREATE TABLE refused (
    device_id TEXT NOT NULL, id TEXT NOT NULL, kind TEXT NOT NULL, reason TEXT NOT NULL, payload TEXT NOT NULL,
    refused_at TEXT NOT NULL, PRIMARY KEY (device_id, id));
CREATE TABLE purchases (
    key TEXT PRIMARY KEY, facility TEXT NOT NULL, device_id TEXT NOT NULL, account TEXT NOT NULL,
    amount_cents {int} NOT NULL, product TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL,
    balance_cents {int}, at TEXT NOT NULL);
CREATE TABLE reservations (
    device_id TEXT NOT NULL, account TEXT NOT NULL, facility TEXT NOT NULL, reservation_id TEXT NOT NULL,
    held_cents {int} NOT NULL, at TEXT NOT NULL, PRIMARY KEY (device_id, account));
CREATE INDEX reservations_account ON reservations (facility, account);
CREATE TABLE trust (
    facility TEXT NOT NULL, account TEXT NOT NULL, cents {int} NOT NULL CHECK (cents >= 0),
    PRIMARY KEY (facility, account));
CREATE TABLE IF NOT EXISTS authority (id INTEGER PRIMARY KEY CHECK (id = 1), ca TEXT NOT NULL, server TEXT NOT NULL)
"""

#: A SQLite file from before facilities: its tables move under the default facility.
_SQLITE_LEGACY = f"""
ALTER TABLE data RENAME TO legacy_data;
ALTER TABLE devices RENAME TO legacy_devices;
ALTER TABLE received RENAME TO legacy_received;
ALTER TABLE purchases RENAME TO legacy_purchases;
ALTER TABLE reservations RENAME TO legacy_reservations;
ALTER TABLE trust RENAME TO legacy_trust;
DROP INDEX IF EXISTS data_seq;
DROP INDEX IF EXISTS received_device;
DROP TABLE IF EXISTS refused;
{_TABLES.format(int="INTEGER", blob="BLOB")};
INSERT INTO facilities (id, head, digest, horizon) VALUES ('{DEFAULT_FACILITY}',
    coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE name = 'head'), 0),
    coalesce((SELECT value FROM meta WHERE name = 'digest'), ''),
    coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE name = 'horizon'), 0));
INSERT INTO data SELECT '{DEFAULT_FACILITY}', dataset, key, value, seq FROM legacy_data;
INSERT INTO devices SELECT device_id, '{DEFAULT_FACILITY}', sync_key, enrolled_at, last_seen, cursor, sessions
    FROM legacy_devices;
INSERT INTO received SELECT device_id, id, '{DEFAULT_FACILITY}', kind, created_at, payload, received_at
    FROM legacy_received;
INSERT INTO purchases SELECT key, '{DEFAULT_FACILITY}', device_id, account, amount_cents, product, status, reason,
    balance_cents, at FROM legacy_purchases;
INSERT INTO reservations SELECT device_id, account, '{DEFAULT_FACILITY}', reservation_id, held_cents, at
    FROM legacy_reservations;
INSERT INTO trust SELECT '{DEFAULT_FACILITY}', account, cents FROM legacy_trust;
DELETE FROM meta WHERE name IN ('head', 'digest', 'horizon');
DROP TABLE legacy_data; DROP TABLE legacy_devices; DROP TABLE legacy_received; DROP TABLE legacy_purchases;
DROP TABLE legacy_reservations; DROP TABLE legacy_trust
"""

#: The kiosk's trust ledger (sim/central/purchases.py), one facility's rows beside another's. `n` orders
#: purchases decided in the same minute; an audit entry's `seq` orders the trail.
KIOSK_BOOKS = """
CREATE TABLE IF NOT EXISTS kiosk_accounts (
    facility TEXT NOT NULL, inmate_id TEXT NOT NULL, trust_cents {int} NOT NULL CHECK (trust_cents >= 0),
    phone_cents {int} NOT NULL CHECK (phone_cents >= 0), restricted_until TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (facility, inmate_id));
CREATE TABLE IF NOT EXISTS kiosk_central_purchases (
    n {serial}, facility TEXT NOT NULL, key TEXT NOT NULL, inmate_id TEXT NOT NULL, channel TEXT NOT NULL,
    device_id TEXT NOT NULL, staff_id TEXT NOT NULL DEFAULT '', amount_cents {int} NOT NULL,
    fee_cents {int} NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', trust_cents {int} NOT NULL,
    phone_cents {int} NOT NULL, day TEXT NOT NULL, decided_at TEXT NOT NULL, UNIQUE (facility, key));
CREATE INDEX IF NOT EXISTS kiosk_central_purchases_recent
    ON kiosk_central_purchases (facility, inmate_id, decided_at) WHERE status = 'applied';
CREATE TABLE IF NOT EXISTS kiosk_daily (
    facility TEXT NOT NULL, inmate_id TEXT NOT NULL, day TEXT NOT NULL, spent_cents {int} NOT NULL,
    PRIMARY KEY (facility, inmate_id, day));
CREATE TABLE IF NOT EXISTS kiosk_audit (
    seq {serial}, facility TEXT NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL, device_id TEXT NOT NULL,
    inmate_id TEXT NOT NULL, key TEXT NOT NULL, action TEXT NOT NULL, amount_cents {int} NOT NULL,
    fee_cents {int} NOT NULL, result TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS kiosk_audit_facility ON kiosk_audit (facility, seq)
"""
#: A call's hold on an account lapses at `expires_at` (UTC ISO time; '' never: a sync's offline reservation),
#: so money held by a handset that died mid-call returns to the account (docs/sync-protocol.md, 11).
_HOLD_EXPIRY = "ALTER TABLE reservations ADD COLUMN expires_at TEXT NOT NULL DEFAULT ''"
#: When a device was retired (torn off the wall, stolen, replaced): its sessions are refused from then on.
_RETIREMENT = "ALTER TABLE devices ADD COLUMN retired_at TEXT NOT NULL DEFAULT ''"
SQLITE_TYPES = {"int": "INTEGER", "serial": "INTEGER PRIMARY KEY AUTOINCREMENT"}
POSTGRES_TYPES = {"int": "BIGINT", "serial": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"}

#: The kiosk tables as the ledger made them before facilities (any that are missing are made empty first),
#: moved under the default facility in their order.
_SQLITE_KIOSK_LEGACY = f"""
CREATE TABLE IF NOT EXISTS kiosk_accounts (inmate_id TEXT PRIMARY KEY, trust_cents INTEGER NOT NULL,
    phone_cents INTEGER NOT NULL, restricted_until TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS kiosk_central_purchases (key TEXT PRIMARY KEY, inmate_id TEXT NOT NULL,
    channel TEXT NOT NULL, device_id TEXT NOT NULL, staff_id TEXT NOT NULL DEFAULT '', amount_cents INTEGER NOT NULL,
    fee_cents INTEGER NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', trust_cents INTEGER NOT NULL,
    phone_cents INTEGER NOT NULL, day TEXT NOT NULL, decided_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kiosk_daily (inmate_id TEXT NOT NULL, day TEXT NOT NULL, spent_cents INTEGER NOT NULL,
    PRIMARY KEY (inmate_id, day));
CREATE TABLE IF NOT EXISTS kiosk_audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,
    actor TEXT NOT NULL, device_id TEXT NOT NULL, inmate_id TEXT NOT NULL, key TEXT NOT NULL, action TEXT NOT NULL,
    amount_cents INTEGER NOT NULL, fee_cents INTEGER NOT NULL, result TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '');
DROP INDEX IF EXISTS kiosk_central_purchases_recent;
ALTER TABLE kiosk_accounts RENAME TO legacy_kiosk_accounts;
ALTER TABLE kiosk_central_purchases RENAME TO legacy_kiosk_central_purchases;
ALTER TABLE kiosk_daily RENAME TO legacy_kiosk_daily;
ALTER TABLE kiosk_audit RENAME TO legacy_kiosk_audit;
{KIOSK_BOOKS.format(**SQLITE_TYPES)};
INSERT INTO kiosk_accounts SELECT '{DEFAULT_FACILITY}', inmate_id, trust_cents, phone_cents, restricted_until
    FROM legacy_kiosk_accounts;
INSERT INTO kiosk_central_purchases (facility, key, inmate_id, channel, device_id, staff_id, amount_cents,
    fee_cents, status, reason, trust_cents, phone_cents, day, decided_at)
    SELECT '{DEFAULT_FACILITY}', key, inmate_id, channel, device_id, staff_id, amount_cents, fee_cents, status,
    reason, trust_cents, phone_cents, day, decided_at FROM legacy_kiosk_central_purchases ORDER BY rowid;
INSERT INTO kiosk_daily SELECT '{DEFAULT_FACILITY}', inmate_id, day, spent_cents FROM legacy_kiosk_daily;
INSERT INTO kiosk_audit SELECT seq, '{DEFAULT_FACILITY}', at, actor, device_id, inmate_id, key, action,
    amount_cents, fee_cents, result, detail FROM legacy_kiosk_audit;
DROP TABLE legacy_kiosk_accounts; DROP TABLE legacy_kiosk_central_purchases; DROP TABLE legacy_kiosk_daily;
DROP TABLE legacy_kiosk_audit
"""

#: (name, SQLite script, PostgreSQL script)
#: One charge per call a device placed: a call's proof of PIN (firmware/rules/pin_proof.py) pays for one charge.
_CALL_CHARGES = """
CREATE TABLE call_charges (
    facility TEXT NOT NULL, device_id TEXT NOT NULL, call_id TEXT NOT NULL, record_id TEXT NOT NULL,
    PRIMARY KEY (facility, device_id, call_id))
"""

MIGRATIONS: list[tuple[str, str, str]] = [
    ("0001_facilities", _TABLES.format(int="INTEGER", blob="BLOB"), _TABLES.format(int="BIGINT", blob="BYTEA")),
    ("0002_kiosk_books", _SQLITE_KIOSK_LEGACY, KIOSK_BOOKS.format(**POSTGRES_TYPES)),
    ("0003_hold_expiry", _HOLD_EXPIRY, _HOLD_EXPIRY),
    ("0004_device_retirement", _RETIREMENT, _RETIREMENT),
    ("0005_call_charges", _CALL_CHARGES, _CALL_CHARGES),
]


def statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def _applied(db: Connection) -> set[str]:
    db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    return {row[0] for row in db.execute("SELECT name FROM schema_migrations")}


def _legacy_sqlite(db: Connection) -> bool:
    columns = [row[1] for row in db.execute("PRAGMA table_info(data)")]
    return bool(columns) and "facility" not in columns


def pending(db: Connection) -> list[str]:
    done = _applied(db)
    return [name for name, _lite, _pg in MIGRATIONS if name not in done]


def migrate(db: Connection) -> list[str]:
    """Apply every migration not applied yet, each in its own transaction; returns their names."""
    done = _applied(db)
    applied: list[str] = []
    for name, lite, pg in MIGRATIONS:
        if name in done:
            continue
        script = pg if db.dialect == "postgresql" else lite
        if db.dialect == "sqlite" and name == "0001_facilities" and _legacy_sqlite(db):
            script = _SQLITE_LEGACY
        with db.transaction() as tx:
            if db.dialect == "postgresql":  # one migrating process at a time
                tx.execute("SELECT pg_advisory_xact_lock(7226)")
                if name in _applied(tx):
                    continue
            for statement in statements(script):
                tx.execute(statement)
            tx.execute(
                "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                (name, datetime.now(UTC).isoformat(timespec="seconds")),
            )
        applied.append(name)
    return applied


def require_current(db: Connection, where: str) -> None:
    missing = pending(db)
    if missing:
        raise BackendError(
            f"database {where}: schema migrations {', '.join(missing)} not applied;"
            " run `ringfence central migrate --db ...` first"
        )
