-- A notification whose family's webhook body is the resource itself carries that body
-- (payout transactions, as the payouts notifications page shows them).
ALTER TABLE notifications ADD COLUMN body TEXT;
