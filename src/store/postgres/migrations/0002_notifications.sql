-- Webhook notifications: where each account listens, the outbox, and every attempt.

ALTER TABLE accounts ADD COLUMN notification_url TEXT;
ALTER TABLE accounts ADD COLUMN webhook_secret TEXT;

CREATE TABLE notifications (
    id                 BIGSERIAL PRIMARY KEY,
    user_id            BIGINT NOT NULL,
    live_mode          BOOLEAN NOT NULL,
    resource_type      TEXT NOT NULL,
    resource_id        TEXT NOT NULL,
    resource_status    TEXT NOT NULL,
    external_reference TEXT,
    url                TEXT NOT NULL,
    state              TEXT NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at    BIGINT,
    claimed_until      BIGINT,
    created_at         BIGINT NOT NULL
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE state = 'pending';
CREATE INDEX notifications_by_account ON notifications (user_id, id);

CREATE TABLE notification_attempts (
    notification_id BIGINT NOT NULL REFERENCES notifications (id),
    at              BIGINT NOT NULL,
    status_code     INTEGER,
    error           TEXT,
    latency_ms      BIGINT NOT NULL
);
CREATE INDEX notification_attempts_by_notification ON notification_attempts (notification_id, at);
CREATE INDEX audit_events_by_account ON audit_events (user_id, id);
