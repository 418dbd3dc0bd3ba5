-- Customers, payment profiles and their payment methods.

CREATE TABLE customers (
    id          TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES accounts (user_id),
    site_id     TEXT NOT NULL,
    email       TEXT NOT NULL,
    email_key   TEXT NOT NULL,
    first_name  TEXT,
    last_name   TEXT,
    description TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (user_id, email_key)
);
CREATE INDEX customers_by_account ON customers (user_id, site_id, created_at);

CREATE TABLE payment_profiles (
    id                   TEXT PRIMARY KEY,
    user_id              INTEGER NOT NULL REFERENCES accounts (user_id),
    site_id              TEXT NOT NULL,
    customer_id          TEXT NOT NULL REFERENCES customers (id),
    status               TEXT NOT NULL,
    description          TEXT,
    max_day_overdue      INTEGER NOT NULL,
    statement_descriptor TEXT,
    sequence_control     TEXT NOT NULL,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX payment_profiles_by_customer ON payment_profiles (customer_id, created_at);

CREATE TABLE payment_methods (
    profile_id TEXT NOT NULL REFERENCES payment_profiles (id),
    position   INTEGER NOT NULL,
    method_id  TEXT NOT NULL,
    type       TEXT NOT NULL,
    card_id    TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (profile_id, position)
);
