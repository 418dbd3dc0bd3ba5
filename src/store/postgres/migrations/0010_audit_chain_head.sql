-- A resource's audit records in id order, so a write finds the chain's last record
-- (`ORDER BY id DESC LIMIT 1`) at the end of one index range. With only
-- (user_id, resource_type, resource_id), a plan made before the table had
-- statistics walked `audit_events_by_account` backwards through every record of the
-- account instead: a Point create fell from 1,261 to 400 req/s as 5,000 became
-- 20,000 records (examples/bench, `--store postgres --requests 20000`).
CREATE INDEX audit_events_resource_chain ON audit_events (user_id, resource_type, resource_id, id);
DROP INDEX audit_events_resource;
