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

#: (name, SQLite script, PostgreSQL script)
MIGRATIONS: list[tuple[str, str, str]] = [
    ("0001_facilities", _TABLES.format(int="INTEGER", blob="BLOB"), _TABLES.format(int="BIGINT", blob="BYTEA")),
]


def _statements(script: str) -> list[str]:
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
            for statement in _statements(script):
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
