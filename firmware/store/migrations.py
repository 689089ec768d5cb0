"""Named schema migrations, applied once each in this order. Append only: never edit one that has shipped."""

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_outbox",
        """
        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            created_at TEXT NOT NULL,
            payload TEXT NOT NULL,
            acked_at TEXT
        );
        CREATE INDEX outbox_pending ON outbox (seq) WHERE acked_at IS NULL
        """,
    ),
    (
        "0002_central_cache",
        """
        CREATE TABLE central_cache (
            dataset TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            seq INTEGER NOT NULL,
            PRIMARY KEY (dataset, key)
        )
        """,
    ),
    (
        "tech_0001_audit",
        """
        CREATE TABLE tech_audit (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            detail TEXT NOT NULL
        );
        CREATE INDEX tech_audit_kind ON tech_audit (kind, seq)
        """,
    ),
]
MIGRATIONS.append(
    (
        "sync_0001_state",
        """
        CREATE TABLE sync_identity (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            device_id TEXT NOT NULL,
            credentials TEXT NOT NULL
        );
        CREATE TABLE sync_state (name TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE sync_staging (
            dataset TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT,
            PRIMARY KEY (dataset, key)
        );
        CREATE TABLE sync_blobs_out (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            path TEXT NOT NULL,
            meta TEXT NOT NULL,
            created_at TEXT NOT NULL,
            sent_at TEXT
        );
        CREATE TABLE sync_purchases (
            key TEXT PRIMARY KEY,
            account TEXT NOT NULL,
            amount_cents INTEGER NOT NULL,
            product TEXT NOT NULL,
            meta TEXT NOT NULL,
            created_at TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'unsent',
            reason TEXT NOT NULL DEFAULT '',
            balance_cents INTEGER,
            answered_at TEXT
        );
        CREATE TABLE sync_reservations (
            account TEXT PRIMARY KEY,
            wanted_cents INTEGER NOT NULL DEFAULT 0,
            reservation_id TEXT,
            granted_cents INTEGER NOT NULL DEFAULT 0,
            granted_at TEXT
        )
        """,
    )
)
