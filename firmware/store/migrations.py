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
