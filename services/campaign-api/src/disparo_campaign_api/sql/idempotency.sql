-- name: claim_idempotency_key
-- Reserve (scope, key) for this transaction; a concurrent holder makes this wait, then no row.
INSERT INTO idempotency_keys (scope, key, fingerprint)
VALUES ($1::text, $2::text, $3::text)
ON CONFLICT (scope, key) DO NOTHING
RETURNING true;

-- name: get_idempotency_key
-- The stored answer for (scope, key), if any.
SELECT fingerprint, status_code, response
FROM idempotency_keys
WHERE scope = $1::text AND key = $2::text;

-- name: store_idempotent_response
-- Record the answer of the reserved key, in the transaction that did the work.
UPDATE idempotency_keys
SET status_code = $3::int, response = $4::jsonb
WHERE scope = $1::text AND key = $2::text;

-- name: remember_idempotent_response
-- Record a finished answer at once (operations that commit in several transactions).
INSERT INTO idempotency_keys (scope, key, fingerprint, status_code, response)
VALUES ($1::text, $2::text, $3::text, $4::int, $5::jsonb)
ON CONFLICT (scope, key) DO NOTHING;

-- name: prune_idempotency_keys
-- Forget keys older than the retention; a retry after that is a new request.
DELETE FROM idempotency_keys WHERE created_at < $1::timestamptz;
