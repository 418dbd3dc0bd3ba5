-- caja's first schema: accounts, tokens, idempotency records, terminal actions, audit.
-- Times are integer milliseconds since the Unix epoch, UTC.

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE accounts (
    user_id    INTEGER PRIMARY KEY,
    live_mode  INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE tokens (
    token_hash BLOB PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES accounts (user_id),
    site_id    TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE idempotency_records (
    user_id     INTEGER NOT NULL,
    key         TEXT NOT NULL,
    fingerprint BLOB NOT NULL,
    status      INTEGER NOT NULL,
    body        BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_records_created_at ON idempotency_records (created_at);

CREATE TABLE terminal_actions (
    id                 TEXT PRIMARY KEY,
    user_id            INTEGER NOT NULL REFERENCES accounts (user_id),
    external_reference TEXT,
    terminal_id        TEXT NOT NULL,
    subtype            TEXT NOT NULL,
    content            TEXT NOT NULL,
    status             TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
-- A terminal holds at most one live action: the backstop behind the engine's check.
CREATE UNIQUE INDEX terminal_actions_one_live_per_terminal
    ON terminal_actions (user_id, terminal_id)
    WHERE status IN ('created', 'at_terminal');

CREATE TABLE audit_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER NOT NULL,
    resource_type   TEXT NOT NULL,
    resource_id     TEXT NOT NULL,
    from_status     TEXT,
    to_status       TEXT NOT NULL,
    deleted_by      TEXT,
    comments        TEXT,
    request_id      TEXT NOT NULL,
    idempotency_key TEXT,
    created_at      INTEGER NOT NULL
);
CREATE INDEX audit_events_resource ON audit_events (user_id, resource_type, resource_id);
