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
        "rules_0001_records",
        """
        CREATE INDEX rules_pin_verifier ON central_cache (json_extract(value, '$.pin_verifier'))
            WHERE dataset = 'inmates';
        CREATE TABLE rules_calls (
            id TEXT PRIMARY KEY,
            inmate_id TEXT NOT NULL,
            number TEXT NOT NULL,
            dialed TEXT NOT NULL,
            call_type TEXT NOT NULL,
            call_class TEXT,
            account TEXT,
            rate_per_minute TEXT NOT NULL,
            addon_per_minute TEXT NOT NULL,
            free_call INTEGER NOT NULL,
            recorded INTEGER NOT NULL,
            attorney INTEGER NOT NULL,
            started_at TEXT NOT NULL,
            connected_at TEXT,
            connected_s REAL NOT NULL DEFAULT 0,
            closed INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX rules_calls_open ON rules_calls (id) WHERE closed = 0;
        CREATE TABLE rules_cdr (
            call_id TEXT PRIMARY KEY,
            inmate_id TEXT NOT NULL,
            number TEXT NOT NULL,
            call_type TEXT NOT NULL,
            call_class TEXT,
            started_at TEXT NOT NULL,
            connected_at TEXT,
            ended_at TEXT NOT NULL,
            connected_s INTEGER NOT NULL,
            billed_s INTEGER NOT NULL,
            billed_minutes INTEGER NOT NULL,
            charge_cents INTEGER NOT NULL,
            end_reason TEXT NOT NULL,
            recording_ref TEXT,
            violations TEXT NOT NULL,
            free_call INTEGER NOT NULL,
            attorney INTEGER NOT NULL,
            outbox_id TEXT NOT NULL
        );
        CREATE INDEX rules_cdr_inmate ON rules_cdr (inmate_id, connected_at);
        CREATE TABLE rules_ledger (
            id TEXT PRIMARY KEY,
            call_id TEXT NOT NULL,
            account TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('reserve', 'charge', 'release')),
            amount_cents INTEGER NOT NULL CHECK (amount_cents >= 0),
            at TEXT NOT NULL,
            outbox_id TEXT NOT NULL,
            UNIQUE (call_id, kind)
        );
        CREATE INDEX rules_ledger_account ON rules_ledger (account, kind);
        CREATE TABLE rules_blocks (
            number TEXT PRIMARY KEY,
            at TEXT NOT NULL,
            source TEXT NOT NULL,
            call_id TEXT,
            inmate_id TEXT,
            outbox_id TEXT NOT NULL
        );
        CREATE TABLE rules_violations (
            id TEXT PRIMARY KEY,
            call_id TEXT,
            inmate_id TEXT,
            kind TEXT NOT NULL,
            at TEXT NOT NULL,
            detail TEXT NOT NULL,
            outbox_id TEXT NOT NULL
        );
        CREATE INDEX rules_violations_call ON rules_violations (call_id);
        CREATE TABLE rules_reports (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            call_id TEXT,
            inmate_id TEXT,
            at TEXT NOT NULL,
            detail TEXT NOT NULL,
            outbox_id TEXT NOT NULL
        );
        CREATE TABLE rules_pin_attempts (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            ok INTEGER NOT NULL,
            inmate_id TEXT,
            outbox_id TEXT
        );
        CREATE TABLE rules_lockouts (
            id TEXT PRIMARY KEY,
            started_at TEXT NOT NULL,
            until TEXT NOT NULL,
            last_attempt_seq INTEGER NOT NULL,
            outbox_id TEXT NOT NULL
        );
        CREATE TABLE rules_languages (
            inmate_id TEXT PRIMARY KEY,
            language TEXT NOT NULL CHECK (language IN ('en', 'es')),
            at TEXT NOT NULL
        );
        CREATE TABLE rules_free_calls (
            number TEXT PRIMARY KEY,
            call_id TEXT NOT NULL,
            at TEXT NOT NULL
        )
        """,
    ),
    (
        "rules_0002_list_wildcards",
        """
        CREATE INDEX rules_list_wildcards ON central_cache (key)
            WHERE dataset = 'lists' AND (instr(key, '?') > 0 OR instr(key, '*') > 0)
        """,
    ),
    (
        "rules_0003_ledger_by_outbox",
        """
        CREATE INDEX rules_ledger_outbox ON rules_ledger (outbox_id)
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
MIGRATIONS.append(
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
    )
)
MIGRATIONS.append(
    (
        "rules_0003_pin_scopes",
        """
        ALTER TABLE rules_lockouts ADD COLUMN inmate_id TEXT;
        ALTER TABLE rules_lockouts ADD COLUMN level INTEGER NOT NULL DEFAULT 1;
        CREATE INDEX rules_lockouts_scope ON rules_lockouts (inmate_id, until);
        CREATE INDEX rules_pin_attempts_account ON rules_pin_attempts (inmate_id, ok, seq);
        CREATE INDEX rules_inmate_numbers ON central_cache (json_extract(value, '$.number'))
            WHERE dataset = 'inmates'
        """,
    )
)
MIGRATIONS.append(
    (
        "tech_0002_code_attempts",
        """
        CREATE TABLE tech_code_attempts (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            ok INTEGER NOT NULL
        );
        CREATE TABLE tech_code_lockouts (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            started_at REAL NOT NULL,
            until REAL NOT NULL,
            last_attempt_seq INTEGER NOT NULL,
            level INTEGER NOT NULL
        )
        """,
    )
)
MIGRATIONS.append(
    (
        "sync_0001_outbox_delivered",
        """
        ALTER TABLE outbox ADD COLUMN delivered_at TEXT;
        CREATE INDEX outbox_undelivered ON outbox (seq) WHERE acked_at IS NULL AND delivered_at IS NULL
        """,
    )
)
MIGRATIONS.append(
    (
        "kiosk_0002_purchase_proof",
        """
        ALTER TABLE kiosk_purchases ADD COLUMN proof TEXT NOT NULL DEFAULT ''
        """,
    )
)
MIGRATIONS.append(
    (
        "rules_0004_call_proof",
        """
        ALTER TABLE rules_calls ADD COLUMN proof TEXT NOT NULL DEFAULT ''
        """,
    )
)
