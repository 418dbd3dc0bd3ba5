-- A notification sent in the legacy IPN form (`?topic=<topic>&id=<id>`, no signature)
-- rather than as a webhook (`?data.id=…&type=…`, signed): NULL is a webhook.
ALTER TABLE notifications ADD COLUMN form TEXT;
