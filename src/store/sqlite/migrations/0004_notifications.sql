-- Webhook notifications: where each account listens, the outbox, and every attempt.

ALTER TABLE accounts ADD COLUMN notification_url TEXT;
ALTER TABLE accounts ADD COLUMN webhook_secret TEXT;

CREATE TABLE notifications (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id            INTEGER NOT NULL,
    live_mode          INTEGER NOT NULL,
    resource_type      TEXT NOT NULL,
    resource_id        TEXT NOT NULL,
    resource_status    TEXT NOT NULL,
    external_reference TEXT,
    url                TEXT NOT NULL,
    state              TEXT NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at    INTEGER,
    claimed_until      INTEGER,
    created_at         INTEGER NOT NULL
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE state = 'pending';
CREATE INDEX notifications_by_account ON notifications (user_id, id);

CREATE TABLE notification_attempts (
    notification_id INTEGER NOT NULL REFERENCES notifications (id),
    at              INTEGER NOT NULL,
    status_code     INTEGER,
    error           TEXT,
    latency_ms      INTEGER NOT NULL
);
CREATE INDEX notification_attempts_by_notification ON notification_attempts (notification_id, at);
CREATE INDEX audit_events_by_account ON audit_events (user_id, id);
