"""Where the central server keeps its data: an SQLite file (embedded, one facility's server, the tests) or a
PostgreSQL database (a vendor's many facilities, several server processes).

Both are spoken to through one small connection interface with SQLite's `?` placeholders, so the queries in
sim/central/db.py are written once; the few statements that differ are chosen by `dialect`. Schema changes
are numbered migrations (sim/central/migrations.py): SQLite applies them when a file is opened, PostgreSQL only
when `ringfence central migrate` runs, so that server processes never race to change a shared schema.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from firmware.store import transaction as sqlite_transaction

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class BackendError(RuntimeError):
    """The database cannot be opened or is not ready; str() says which and what to do."""


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    dialect: str

    @property
    def in_transaction(self) -> bool: ...

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Cursor: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any: ...

    def transaction(self) -> AbstractContextManager[Connection]: ...

    def close(self) -> None: ...


def is_postgres(target: str | Path) -> bool:
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


def describe(target: str | Path) -> str:
    """The target without a password, for messages."""
    if not is_postgres(target):
        return str(target)
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(str(target))
    params.pop("password", None)
    return make_conninfo("", **params)


class SqliteConnection(sqlite3.Connection):
    """sqlite3 itself, with the interface's transaction (BEGIN IMMEDIATE: writers never fail half way)."""

    dialect = "sqlite"

    def transaction(self) -> AbstractContextManager[SqliteConnection]:
        return sqlite_transaction(self)  # type: ignore[return-value]


def open_sqlite(path: str | Path) -> SqliteConnection:
    db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=60, factory=SqliteConnection)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


class PostgresConnection:
    """psycopg 3 in autocommit mode; `transaction` runs BEGIN ... COMMIT; `?` placeholders become `%s`."""

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        import psycopg

        try:
            self._conn = psycopg.connect(url, autocommit=True)
        except psycopg.Error as exc:
            raise BackendError(f"database {describe(url)}: cannot connect: {exc}".strip()) from None
        self._depth = 0

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._conn.execute(self._sql(sql), params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._conn.cursor() as cursor:
            cursor.executemany(self._sql(sql), list(rows))

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    @contextmanager
    def transaction(self) -> Iterator[PostgresConnection]:
        if self._depth:
            yield self
            return
        self._conn.execute("BEGIN")
        self._depth = 1
        try:
            yield self
        except BaseException:
            self._depth = 0
            self._conn.execute("ROLLBACK")
            raise
        self._depth = 0
        self._conn.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()


class AdoptedSqlite:
    """A plain sqlite3 connection opened elsewhere (the standalone kiosk ledger of the simulator and tests),
    spoken to through the interface."""

    dialect = "sqlite"

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    @property
    def in_transaction(self) -> bool:
        return self._db.in_transaction

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._db.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> sqlite3.Cursor:
        return self._db.executemany(sql, rows)

    @contextmanager
    def transaction(self) -> Iterator[AdoptedSqlite]:
        with sqlite_transaction(self._db):
            yield self

    def close(self) -> None:
        self._db.close()


def adopt(db: Connection | sqlite3.Connection) -> Connection:
    """`db` through the interface: a connection of this module as it is, a plain sqlite3 one adopted."""
    if isinstance(db, sqlite3.Connection) and not isinstance(db, SqliteConnection):
        return AdoptedSqlite(db)
    return db


def connect(target: str | Path) -> Connection:
    if is_postgres(target):
        return PostgresConnection(str(target))
    return open_sqlite(target)
