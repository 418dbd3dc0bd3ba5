-- Each audit record chains to the record before it of the same resource:
-- `hash` = SHA-256 over `prev_hash` and the record's fields (domain::audit::chain_hash).
-- Records written before this migration have neither, and come before every link.
ALTER TABLE audit_events ADD COLUMN hash TEXT;
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT;
