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
]

MIGRATIONS.append(
    (
        "kiosk_0001_purchases",
        """
        CREATE TABLE kiosk_purchases (
            key TEXT PRIMARY KEY,
            inmate_id TEXT NOT NULL,
            amount_cents INTEGER NOT NULL,
            fee_cents INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'sending',
            reason TEXT NOT NULL DEFAULT '',
            trust_cents INTEGER,
            phone_cents INTEGER,
            decided_at TEXT,
            settled_at TEXT
        );
        CREATE INDEX kiosk_purchases_open ON kiosk_purchases (created_at) WHERE status = 'sending'
        """,
    )
)
