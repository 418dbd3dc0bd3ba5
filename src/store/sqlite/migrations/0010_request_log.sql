-- The console's request log: every API request of an account, as caja answered it,
-- with headers and bodies already redacted. Written off the request's path in
-- batches; pruned to the retention flags (rows and age). Entries are written in
-- time order, so ids rise with `at` and pruning by age needs no index of its own.
CREATE TABLE request_log (
    id               INTEGER PRIMARY KEY,
    user_id          INTEGER NOT NULL,
    at               INTEGER NOT NULL,
    family           TEXT NOT NULL,
    method           TEXT NOT NULL,
    path             TEXT NOT NULL,
    status           INTEGER NOT NULL,
    latency_us       INTEGER NOT NULL,
    idempotency_key  TEXT,
    replayed         INTEGER NOT NULL,
    request_id       TEXT NOT NULL,
    source           TEXT NOT NULL,
    request_headers  TEXT NOT NULL,
    request_body     TEXT NOT NULL,
    response_headers TEXT NOT NULL,
    response_body    TEXT NOT NULL
);
CREATE INDEX request_log_by_user ON request_log (user_id, id);
-- An account's resources of one kind, newest first (the console's listings).
CREATE INDEX resources_by_owner ON resources (kind, user_id, seq);
