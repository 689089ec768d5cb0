"""The central database's schema moves forward by numbered migrations, and an SQLite file from before
facilities keeps everything, under the default facility."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from click.testing import CliRunner

from firmware.cli import main
from sim.central.db import CentralDB

#: The central schema as it was before facilities (the parts the move touches), with a little data.
BEFORE_FACILITIES = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE data (dataset TEXT NOT NULL, key TEXT NOT NULL, value TEXT, seq INTEGER NOT NULL,
    PRIMARY KEY (dataset, key));
CREATE INDEX data_seq ON data (seq);
CREATE TABLE devices (device_id TEXT PRIMARY KEY, sync_key BLOB NOT NULL, enrolled_at TEXT NOT NULL,
    last_seen TEXT, cursor INTEGER NOT NULL DEFAULT 0, sessions INTEGER NOT NULL DEFAULT 0);
CREATE TABLE received (id TEXT PRIMARY KEY, device_id TEXT NOT NULL, kind TEXT NOT NULL, created_at TEXT NOT NULL,
    payload TEXT NOT NULL, received_at TEXT NOT NULL);
CREATE INDEX received_device ON received (device_id, kind);
CREATE TABLE purchases (key TEXT PRIMARY KEY, device_id TEXT NOT NULL, account TEXT NOT NULL,
    amount_cents INTEGER NOT NULL, product TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL,
    balance_cents INTEGER, at TEXT NOT NULL);
CREATE TABLE reservations (device_id TEXT NOT NULL, account TEXT NOT NULL, reservation_id TEXT NOT NULL,
    held_cents INTEGER NOT NULL, at TEXT NOT NULL, PRIMARY KEY (device_id, account));
CREATE TABLE trust (account TEXT PRIMARY KEY, cents INTEGER NOT NULL CHECK (cents >= 0));
CREATE TABLE authority (id INTEGER PRIMARY KEY CHECK (id = 1), ca TEXT NOT NULL, server TEXT NOT NULL);
INSERT INTO meta VALUES ('head', '7'), ('horizon', '2'),
    ('digest', '00000000000000000000000000000000000000000000000000000000000000ff');
INSERT INTO data VALUES ('accounts', 'debit:I1', '{"balance_cents":5}', 7), ('blocks', '3055550100', NULL, 3);
INSERT INTO devices VALUES ('A-1', x'0102', '2026-01-01', NULL, 7, 4);
INSERT INTO received VALUES ('r1', 'A-1', 'call', 't', '{}', 't');
INSERT INTO trust VALUES ('I1', 900);
"""


def test_a_file_from_before_facilities_keeps_everything_under_the_default_facility(tmp_path: Path) -> None:
    path = tmp_path / "central.sqlite"
    old = sqlite3.connect(path)
    old.executescript(BEFORE_FACILITIES)
    old.close()
    db = CentralDB(path)
    assert db.facility == "default" and db.head() == 7 and db.horizon() == 2
    assert db.digest()[1] == bytes(31) + b"\xff"
    assert db.get("accounts", "debit:I1") == {"balance_cents": 5}
    assert db.page(0, 0, 0, 10).items == {"accounts": [("debit:I1", '{"balance_cents":5}')]}
    assert db.key_for("A-1") == b"\x01\x02" and db.facility_of("A-1") == "default"
    assert db.received_count("A-1") == 1
    assert db.db.execute("SELECT cents FROM trust WHERE facility = 'default' AND account = 'I1'").fetchone()[0] == 900
    assert db.db.execute("SELECT count(*) FROM meta WHERE name IN ('head', 'digest', 'horizon')").fetchone()[0] == 0
    db.close()


def test_the_migrate_command_says_what_it_applied_then_that_nothing_is_left(tmp_path: Path) -> None:
    target = str(tmp_path / "central.sqlite")
    first = CliRunner().invoke(main, ["central", "migrate", "--db", target])
    assert first.exit_code == 0 and first.output.endswith(
        "applied 0001_facilities, 0002_kiosk_books, 0003_hold_expiry, 0004_device_retirement, 0005_call_charges\n"
    )
    again = CliRunner().invoke(main, ["central", "migrate", "--db", target])
    assert again.exit_code == 0 and again.output.endswith("schema up to date\n")


#: The kiosk ledger's tables as it made them in a central SQLite file before they carried a facility.
KIOSK_BEFORE_FACILITIES = """
CREATE TABLE kiosk_accounts (inmate_id TEXT PRIMARY KEY, trust_cents INTEGER NOT NULL CHECK (trust_cents >= 0),
    phone_cents INTEGER NOT NULL CHECK (phone_cents >= 0), restricted_until TEXT NOT NULL DEFAULT '');
CREATE TABLE kiosk_central_purchases (key TEXT PRIMARY KEY, inmate_id TEXT NOT NULL, channel TEXT NOT NULL,
    device_id TEXT NOT NULL, staff_id TEXT NOT NULL DEFAULT '', amount_cents INTEGER NOT NULL,
    fee_cents INTEGER NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', trust_cents INTEGER NOT NULL,
    phone_cents INTEGER NOT NULL, day TEXT NOT NULL, decided_at TEXT NOT NULL);
CREATE INDEX kiosk_central_purchases_recent ON kiosk_central_purchases (inmate_id, decided_at)
    WHERE status = 'applied';
CREATE TABLE kiosk_daily (inmate_id TEXT NOT NULL, day TEXT NOT NULL, spent_cents INTEGER NOT NULL,
    PRIMARY KEY (inmate_id, day));
CREATE TABLE kiosk_audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL,
    device_id TEXT NOT NULL, inmate_id TEXT NOT NULL, key TEXT NOT NULL, action TEXT NOT NULL,
    amount_cents INTEGER NOT NULL, fee_cents INTEGER NOT NULL, result TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '');
INSERT INTO kiosk_accounts VALUES ('I1', 4000, 0, '');
INSERT INTO kiosk_central_purchases VALUES ('k-old', 'I1', 'kiosk', 'K-1', '', 500, 0, 'applied', '', 4000, 500,
    '2026-01-02', '2026-01-02 10:00 UTC');
INSERT INTO kiosk_daily VALUES ('I1', '2026-01-02', 500);
INSERT INTO kiosk_audit VALUES (41, '2026-01-02 10:00 UTC', 'inmate:I1', 'K-1', 'I1', 'k-old', 'purchase', 500, 0,
    'applied', '');
"""


def test_a_file_with_the_kiosk_books_from_before_facilities_keeps_them_under_the_default_facility(
    tmp_path: Path,
) -> None:
    from firmware.kiosk.service import PurchaseRequest
    from sim.central.kiosk_sync import ledger

    path = tmp_path / "central.sqlite"
    old = sqlite3.connect(path)
    old.executescript(BEFORE_FACILITIES + KIOSK_BEFORE_FACILITIES)
    old.close()
    db = CentralDB(path)
    books = ledger(db)
    assert books.knows("k-old") and books.applied_count("k-old") == 1
    held = books.book.read(db.db, "I1")
    assert held is not None and held.trust_cents == 4000
    audit = books.audit()
    assert [(e.seq, e.key, e.action) for e in audit] == [(41, "k-old", "purchase")]
    again = books.apply(PurchaseRequest("k-old", "K-1", "I1", 500, 0))
    assert again.status == "applied" and books.audit()[-1].action == "duplicate"
    assert books.audit()[-1].seq == 42, "the trail goes on from its last entry"
    db.close()
