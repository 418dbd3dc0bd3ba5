-- One store for every resource family: each resource is an envelope and a JSON
-- document; index entries (some unique) find and list it; a timer wakes it.
-- The family tables of earlier releases are moved in and dropped.

-- `seq` numbers resources in the order they were stored: listing entries point at it,
-- so the children of one parent, stored together, are read from neighbouring pages.
CREATE TABLE resources (
    seq        INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,
    id         TEXT NOT NULL,
    user_id    INTEGER NOT NULL,
    status     TEXT,
    version    INTEGER NOT NULL,
    document   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (kind, id)
);

-- Unique entries: the primary key itself refuses a second holder.
CREATE TABLE resource_keys (
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    PRIMARY KEY (kind, name, value)
) WITHOUT ROWID;

-- Listing entries: one index serves every lookup and page, in sort order.
CREATE TABLE resource_index (
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    sort_key    TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    seq         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, name, value, sort_key, resource_id)
) WITHOUT ROWID;

CREATE TABLE resource_timers (
    kind    TEXT NOT NULL,
    id      TEXT NOT NULL,
    wake_at INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE INDEX resource_timers_due ON resource_timers (kind, wake_at);

-- Terminal actions.
INSERT INTO resources (kind, id, user_id, status, version, document, created_at, updated_at)
SELECT 'terminal_action', id, user_id, status, 1,
       json_object('id', id, 'user_id', user_id, 'external_reference', external_reference,
                   'terminal_id', terminal_id, 'subtype', subtype, 'content', content, 'status', status,
                   'created_at', created_at, 'updated_at', updated_at),
       created_at, updated_at
FROM terminal_actions;
INSERT INTO resource_keys (kind, name, value, resource_id)
SELECT 'terminal_action', 'live_terminal', user_id || ':' || terminal_id, id
FROM terminal_actions WHERE status IN ('created', 'at_terminal');

-- Payouts and their transactions (in-process ones finish after the default 5 s delay).
INSERT INTO resources (kind, id, user_id, status, version, document, created_at, updated_at)
SELECT 'payout', CAST(id AS TEXT), user_id, NULL, 1,
       json_object('id', id, 'user_id', user_id, 'external_reference', external_reference,
                   'description', description, 'schedule_date', schedule_date,
                   'notification_url', notification_url, 'created_at', created_at),
       created_at, created_at
FROM payouts;
INSERT INTO resources (kind, id, user_id, status, version, document, created_at, updated_at)
SELECT 'payout_transaction', CAST(id AS TEXT), user_id, status, 1,
       json_object('id', id, 'payout_id', payout_id, 'user_id', user_id, 'position', position,
                   'account_json', account, 'amount', json_object('currency', currency, 'cents', amount_cents),
                   'description', description, 'external_reference', external_reference, 'status', status,
                   'due_at', due_at, 'processing_since', processing_since,
                   'wake_at', CASE status WHEN 'pending' THEN due_at
                                          WHEN 'in_process' THEN processing_since + 5000 END,
                   'created_at', created_at, 'updated_at', updated_at),
       created_at, updated_at
FROM payout_transactions;
INSERT INTO resource_index (kind, name, value, sort_key, resource_id)
SELECT 'payout_transaction', 'payout', CAST(payout_id AS TEXT), printf('%020d', position), CAST(id AS TEXT)
FROM payout_transactions;
INSERT INTO resource_index (kind, name, value, sort_key, resource_id)
SELECT 'payout_transaction', 'payout_status', payout_id || ':' || status, printf('%020d', position),
       CAST(id AS TEXT)
FROM payout_transactions;
INSERT INTO resource_timers (kind, id, wake_at)
SELECT 'payout_transaction', CAST(id AS TEXT),
       CASE status WHEN 'pending' THEN due_at ELSE processing_since + 5000 END
FROM payout_transactions WHERE status IN ('pending', 'in_process');

-- Customers.
INSERT INTO resources (kind, id, user_id, status, version, document, created_at, updated_at)
SELECT 'customer', id, user_id, NULL, 1,
       json_object('id', id, 'owner', json_object('user_id', user_id, 'site_id', site_id), 'email', email,
                   'first_name', first_name, 'last_name', last_name, 'description', description,
                   'created_at', created_at, 'updated_at', updated_at),
       created_at, updated_at
FROM customers;
INSERT INTO resource_keys (kind, name, value, resource_id)
SELECT 'customer', 'email', user_id || ':' || email_key, id FROM customers;
INSERT INTO resource_index (kind, name, value, sort_key, resource_id)
SELECT 'customer', 'site', user_id || ':' || site_id, printf('%020d', created_at), id FROM customers;
INSERT INTO resource_index (kind, name, value, sort_key, resource_id)
SELECT 'customer', 'site_email', user_id || ':' || site_id || ':' || email_key, printf('%020d', created_at), id
FROM customers;

-- Payment profiles, with their payment methods inside.
INSERT INTO resources (kind, id, user_id, status, version, document, created_at, updated_at)
SELECT 'payment_profile', p.id, p.user_id, p.status, 1,
       json_object('id', p.id, 'owner', json_object('user_id', p.user_id, 'site_id', p.site_id),
                   'customer_id', p.customer_id, 'status', p.status, 'description', p.description,
                   'max_day_overdue', p.max_day_overdue, 'statement_descriptor', p.statement_descriptor,
                   'sequence_control', p.sequence_control,
                   'payment_methods', json((SELECT json_group_array(json_object('id', m.method_id, 'kind', m.type,
                                                                         'card_id', m.card_id,
                                                                         'created_at', m.created_at))
                                       FROM (SELECT * FROM payment_methods WHERE profile_id = p.id
                                             ORDER BY position) m)),
                   'created_at', p.created_at, 'updated_at', p.updated_at),
       p.created_at, p.updated_at
FROM payment_profiles p;
INSERT INTO resource_index (kind, name, value, sort_key, resource_id)
SELECT 'payment_profile', 'customer', customer_id, printf('%020d', created_at), id FROM payment_profiles;

UPDATE resource_index
SET seq = (SELECT r.seq FROM resources r WHERE r.kind = resource_index.kind AND r.id = resource_index.resource_id);

DROP TABLE payment_methods;
DROP TABLE payment_profiles;
DROP TABLE customers;
DROP TABLE payout_transactions;
DROP TABLE payouts;
DROP TABLE terminal_actions;
