"""The durable store: a committed transaction survives the process being killed, a failed one leaves nothing, a
second writer waits for the first instead of failing half way, readers see only what is committed, and
migrations run once each. A file that is not a store is refused with its path."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from firmware.store import Store, StoreError
from firmware.store.migrations import MIGRATIONS
from tests.paths import ROOT


def rows(store: Store) -> list[str]:
    return [r[0] for r in store.db.execute("SELECT x FROM t ORDER BY rowid")]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store(tmp_path / "ringfence.sqlite")
    with opened.transaction() as db:
        db.execute("CREATE TABLE t (x TEXT)")
    return opened


def test_the_store_runs_in_wal_mode_with_full_sync(store: Store) -> None:
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_a_commit_survives_the_process_being_killed_right_after(tmp_path: Path) -> None:
    path = tmp_path / "ringfence.sqlite"
    script = (
        "import os, sys\n"
        "from firmware.store import Store\n"
        "store = Store(sys.argv[1])\n"
        "with store.transaction() as db:\n"
        "    db.execute('CREATE TABLE t (x TEXT)')\n"
        "    db.execute(\"INSERT INTO t VALUES ('kept')\")\n"
        "store.db.execute('BEGIN IMMEDIATE')\n"
        "store.db.execute(\"INSERT INTO t VALUES ('never committed')\")\n"
        "os.kill(os.getpid(), 9)\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(path)], cwd=ROOT, check=False)
    assert result.returncode == -9
    assert rows(Store(path)) == ["kept"]


def test_a_transaction_that_fails_leaves_nothing_behind(store: Store) -> None:
    with pytest.raises(ZeroDivisionError), store.transaction() as db:
        db.execute("INSERT INTO t VALUES ('half')")
        _ = 1 / 0
    assert rows(store) == []
    with store.transaction() as db:
        db.execute("INSERT INTO t VALUES ('after')")
    assert rows(store) == ["after"]


def test_a_reader_sees_only_what_is_committed(store: Store, tmp_path: Path) -> None:
    reader = Store(tmp_path / "ringfence.sqlite")
    with store.transaction() as db:
        db.execute("INSERT INTO t VALUES ('pending')")
        assert rows(reader) == []
    assert rows(reader) == ["pending"]


def test_a_second_writer_waits_for_the_first_and_both_commit(store: Store, tmp_path: Path) -> None:
    second = Store(tmp_path / "ringfence.sqlite")
    started, errors = threading.Event(), []

    def write_second() -> None:
        started.set()
        try:
            with second.transaction() as db:
                db.execute("INSERT INTO t VALUES ('second')")
        except sqlite3.Error as exc:
            errors.append(exc)

    with store.transaction() as db:
        db.execute("INSERT INTO t VALUES ('first')")
        thread = threading.Thread(target=write_second)
        thread.start()
        started.wait()
        thread.join(0.3)
        assert thread.is_alive(), "the second writer must wait while the first holds its transaction"
    thread.join(10)
    assert errors == []
    assert rows(store) == ["first", "second"]


def test_migrations_run_once_each_in_order_and_not_again_on_reopen(tmp_path: Path) -> None:
    path = tmp_path / "ringfence.sqlite"
    Store(path).close()
    again = Store(path)
    applied = [r[0] for r in again.db.execute("SELECT name FROM schema_migrations ORDER BY rowid")]
    assert applied == [name for name, _sql in MIGRATIONS]


def test_a_file_that_is_not_a_store_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "ringfence.sqlite"
    path.write_bytes(b"this is not a database, just text long enough to have a header" * 20)
    with pytest.raises(StoreError, match=f"store {path}: "):
        Store(path)


def test_the_store_file_is_private_even_when_it_was_made_readable(tmp_path: Path) -> None:
    path = tmp_path / "ringfence.sqlite"
    Store(path).close()
    os.chmod(path, 0o644)
    Store(path).close()
    assert os.stat(path).st_mode & 0o777 == 0o600
