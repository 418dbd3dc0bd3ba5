-- Every account has a webhook secret, so every notification is signed (accounts made
-- before have one made here; `caja account set --rotate-secret` shows a new one).
UPDATE accounts SET webhook_secret = encode(sha256(gen_random_uuid()::text::bytea || gen_random_uuid()::text::bytea), 'hex')
    WHERE webhook_secret IS NULL;
