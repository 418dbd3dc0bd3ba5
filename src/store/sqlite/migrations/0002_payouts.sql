-- Payouts: the payouts permission, signing keys, payouts and their transactions.

ALTER TABLE accounts ADD COLUMN payouts_enabled INTEGER NOT NULL DEFAULT 1;

CREATE TABLE signing_keys (
    user_id    INTEGER NOT NULL REFERENCES accounts (user_id),
    public_key BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, public_key)
);

CREATE TABLE payouts (
    id                 INTEGER PRIMARY KEY,
    user_id            INTEGER NOT NULL REFERENCES accounts (user_id),
    external_reference TEXT,
    description        TEXT,
    schedule_date      INTEGER,
    notification_url   TEXT,
    created_at         INTEGER NOT NULL
);

CREATE TABLE payout_transactions (
    id                 INTEGER PRIMARY KEY,
    payout_id          INTEGER NOT NULL REFERENCES payouts (id),
    user_id            INTEGER NOT NULL,
    position           INTEGER NOT NULL,
    account            TEXT NOT NULL,
    currency           TEXT NOT NULL,
    amount_cents       INTEGER NOT NULL,
    description        TEXT,
    external_reference TEXT,
    status             TEXT NOT NULL,
    due_at             INTEGER NOT NULL,
    processing_since   INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX payout_transactions_by_payout ON payout_transactions (payout_id, position);
-- The worker's queue: only unfinished transactions are indexed.
CREATE INDEX payout_transactions_due ON payout_transactions (due_at)
    WHERE status IN ('pending', 'in_process');
