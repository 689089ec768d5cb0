"""Where the central server keeps its data: an SQLite file (embedded, one facility's server, the tests) or a
PostgreSQL database (a vendor's many facilities, several server processes).

Both are spoken to through one small connection interface with SQLite's `?` placeholders, so the queries in
sim/central/db.py are written once; the few statements that differ are chosen by `dialect`. Schema changes
are numbered migrations (sim/central/migrations.py): SQLite applies them when a file is opened, PostgreSQL only
when `ringfence central migrate` runs, so that server processes never race to change a shared schema.
A PostgreSQL connection object is a handle on the process's bounded pool, not a connection of its own.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from firmware.store import transaction as sqlite_transaction

if TYPE_CHECKING:  # imported when a PostgreSQL database is first used: SQLite servers need neither
    import psycopg
    from psycopg_pool import ConnectionPool

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


#: Connections one process keeps to one PostgreSQL database at most, unless `limit_connections` says otherwise.
POOL_SIZE = 16  # the default of `central serve --db-connections`
#: How long a statement waits for a free connection before its session fails with a clear reason.
POOL_WAIT_S = 30.0
_pools: dict[str, ConnectionPool] = {}
_pools_lock = threading.Lock()


def _pool(url: str, max_size: int | None = None) -> ConnectionPool:
    """The process's bounded pool for `url`, opened on first use. A first connection outside the pool makes an
    unreachable database a one-line error at once instead of a wait for the pool's retries."""
    import psycopg
    from psycopg_pool import ConnectionPool

    with _pools_lock:
        pool = _pools.get(url)
        if pool is None:
            try:
                psycopg.connect(url, connect_timeout=10).close()
            except psycopg.Error as exc:
                reason = " ".join(str(exc).split())  # psycopg's hint is on a line of its own: one line here
                raise BackendError(f"database {describe(url)}: cannot connect: {reason}") from None
            size = max_size or POOL_SIZE
            pool = ConnectionPool(
                url, min_size=1, max_size=size, kwargs={"autocommit": True}, timeout=POOL_WAIT_S, open=True
            )
            _pools[url] = pool
        elif max_size is not None and max_size != pool.max_size:
            pool.resize(min(pool.min_size, max_size), max_size)
        return pool


def limit_connections(url: str, max_size: int) -> None:
    """At most `max_size` connections from this process to `url` (a server process sets this at start)."""
    _pool(url, max_size)


@dataclass
class Rows:
    """A statement's result, read whole before its connection went back to the pool."""

    rowcount: int
    rows: list[Any]

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Any]:
        return self.rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)


class PostgresConnection:
    """psycopg 3 in autocommit mode through the process's bounded pool: a statement borrows a connection for
    itself, a transaction for its whole length, so sessions waiting on a slow device hold none. `?`
    placeholders become `%s`."""

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        self._pool = _pool(url)
        self._held: psycopg.Connection[Any] | None = None

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        if self._held is not None:
            return self._held.execute(self._sql(sql), params)
        with self._pool.connection() as conn:
            cursor = conn.execute(self._sql(sql), params)
            return Rows(cursor.rowcount, cursor.fetchall() if cursor.description else [])

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.transaction():
            assert self._held is not None
            with self._held.cursor() as cursor:
                cursor.executemany(self._sql(sql), list(rows))

    @property
    def in_transaction(self) -> bool:
        return self._held is not None

    @contextmanager
    def transaction(self) -> Iterator[PostgresConnection]:
        if self._held is not None:
            yield self
            return
        with self._pool.connection() as conn:
            conn.execute("BEGIN")
            self._held = conn
            try:
                yield self
            except BaseException:
                self._held = None
                conn.execute("ROLLBACK")
                raise
            self._held = None
            conn.execute("COMMIT")

    def close(self) -> None:
        """Nothing to give back: connections return to the pool after each statement or transaction."""


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
