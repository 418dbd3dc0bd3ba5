-- A test account's moved clock (`POST /caja/v1/clock/advance`): its time is real time
-- plus `offset_ms`. Only accounts whose clock was moved have a row; the worker takes
-- their timers and notifications at their own time (see src/worker.rs).
CREATE TABLE account_clocks (
    user_id   BIGINT PRIMARY KEY REFERENCES accounts (user_id),
    offset_ms BIGINT NOT NULL
);
