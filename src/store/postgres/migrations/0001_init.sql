-- caja's schema on PostgreSQL: the same tables as the SQLite backend's migrations.
-- Times are BIGINT milliseconds since the Unix epoch, UTC.

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE accounts (
    user_id         BIGINT PRIMARY KEY,
    live_mode       BOOLEAN NOT NULL,
    payouts_enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_at      BIGINT NOT NULL
);

CREATE TABLE tokens (
    token_hash BYTEA PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES accounts (user_id),
    site_id    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE idempotency_records (
    user_id     BIGINT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint BYTEA NOT NULL,
    status      INTEGER NOT NULL,
    body        BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_records_created_at ON idempotency_records (created_at);

CREATE TABLE terminal_actions (
    id                 TEXT PRIMARY KEY,
    user_id            BIGINT NOT NULL REFERENCES accounts (user_id),
    external_reference TEXT,
    terminal_id        TEXT NOT NULL,
    subtype            TEXT NOT NULL,
    content            TEXT NOT NULL,
    status             TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE UNIQUE INDEX terminal_actions_one_live_per_terminal
    ON terminal_actions (user_id, terminal_id)
    WHERE status IN ('created', 'at_terminal');

CREATE TABLE audit_events (
    id              BIGSERIAL PRIMARY KEY,
    user_id         BIGINT NOT NULL,
    resource_type   TEXT NOT NULL,
    resource_id     TEXT NOT NULL,
    from_status     TEXT,
    to_status       TEXT NOT NULL,
    deleted_by      TEXT,
    comments        TEXT,
    request_id      TEXT NOT NULL,
    idempotency_key TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX audit_events_resource ON audit_events (user_id, resource_type, resource_id);

CREATE TABLE signing_keys (
    user_id    BIGINT NOT NULL REFERENCES accounts (user_id),
    public_key BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, public_key)
);

CREATE TABLE payouts (
    id                 BIGINT PRIMARY KEY,
    user_id            BIGINT NOT NULL REFERENCES accounts (user_id),
    external_reference TEXT,
    description        TEXT,
    schedule_date      BIGINT,
    notification_url   TEXT,
    created_at         BIGINT NOT NULL
);

CREATE TABLE payout_transactions (
    id                 BIGINT PRIMARY KEY,
    payout_id          BIGINT NOT NULL REFERENCES payouts (id),
    user_id            BIGINT NOT NULL,
    position           INTEGER NOT NULL,
    account            TEXT NOT NULL,
    currency           TEXT NOT NULL,
    amount_cents       BIGINT NOT NULL,
    description        TEXT,
    external_reference TEXT,
    status             TEXT NOT NULL,
    due_at             BIGINT NOT NULL,
    processing_since   BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX payout_transactions_by_payout ON payout_transactions (payout_id, position);
CREATE INDEX payout_transactions_due ON payout_transactions (due_at)
    WHERE status IN ('pending', 'in_process');

CREATE TABLE customers (
    id          TEXT PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES accounts (user_id),
    site_id     TEXT NOT NULL,
    email       TEXT NOT NULL,
    email_key   TEXT NOT NULL,
    first_name  TEXT,
    last_name   TEXT,
    description TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (user_id, email_key)
);
CREATE INDEX customers_by_account ON customers (user_id, site_id, created_at);

CREATE TABLE payment_profiles (
    id                   TEXT PRIMARY KEY,
    user_id              BIGINT NOT NULL REFERENCES accounts (user_id),
    site_id              TEXT NOT NULL,
    customer_id          TEXT NOT NULL REFERENCES customers (id),
    status               TEXT NOT NULL,
    description          TEXT,
    max_day_overdue      INTEGER NOT NULL,
    statement_descriptor TEXT,
    sequence_control     TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX payment_profiles_by_customer ON payment_profiles (customer_id, created_at);

CREATE TABLE payment_methods (
    profile_id TEXT NOT NULL REFERENCES payment_profiles (id),
    position   INTEGER NOT NULL,
    method_id  TEXT NOT NULL,
    type       TEXT NOT NULL,
    card_id    TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (profile_id, position)
);
