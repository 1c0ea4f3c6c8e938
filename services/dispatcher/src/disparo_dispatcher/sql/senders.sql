-- Senders (WhatsApp numbers) and the leases that give each one to exactly one replica.

-- name: upsert_sender
-- Create a sender or update its configuration; its status and lease are left alone.
INSERT INTO senders (sender_id, provider, address, base_url, credential_ref, rate_per_second,
                     daily_limit, warmup_started_on, waba_id, portfolio, display_phone_number)
VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::int, $7::int, $8::date,
        $9::text, $10::text, $11::text)
ON CONFLICT (sender_id) DO UPDATE
SET provider = EXCLUDED.provider, address = EXCLUDED.address, base_url = EXCLUDED.base_url,
    credential_ref = EXCLUDED.credential_ref, rate_per_second = EXCLUDED.rate_per_second,
    daily_limit = EXCLUDED.daily_limit, warmup_started_on = EXCLUDED.warmup_started_on,
    waba_id = EXCLUDED.waba_id, portfolio = EXCLUDED.portfolio,
    display_phone_number = EXCLUDED.display_phone_number,
    updated_at = now()
RETURNING *;

-- name: insert_sender
-- Create a sender; returns nothing when the id is taken.
INSERT INTO senders (sender_id, provider, address, base_url, credential_ref, rate_per_second,
                     daily_limit, warmup_started_on, waba_id, portfolio, display_phone_number)
VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::int, $7::int, $8::date,
        $9::text, $10::text, $11::text)
ON CONFLICT (sender_id) DO NOTHING
RETURNING *;

-- name: update_sender
-- Replace a sender's settable fields (the caller merged the change into the current row).
UPDATE senders
SET provider = $2::text, address = $3::text, base_url = $4::text, credential_ref = $5::text,
    rate_per_second = $6::int, daily_limit = $7::int, warmup_started_on = $8::date,
    status = $9::text, paused_until = $10::timestamptz, pause_reason = $11::text,
    updated_at = now()
WHERE sender_id = $1::text
RETURNING *;

-- name: get_sender
-- One sender.
SELECT * FROM senders WHERE sender_id = $1::text;

-- name: list_senders
-- Every sender, by id.
SELECT * FROM senders ORDER BY sender_id;

-- name: pause_senders
-- Rest senders that the provider flagged (spam limit, revoked credentials) until a moment.
UPDATE senders
SET status = 'paused', paused_until = $2::timestamptz, pause_reason = $3::text,
    lease_owner = NULL, lease_until = NULL, updated_at = now()
WHERE sender_id = ANY($1::text[]) AND status = 'active';

-- name: resume_rested_senders
-- Paused senders whose rest is over send again.
UPDATE senders
SET status = 'active', paused_until = NULL, pause_reason = NULL, updated_at = now()
WHERE status = 'paused' AND paused_until IS NOT NULL AND paused_until <= $1::timestamptz
RETURNING sender_id;

-- name: heartbeat_replica
-- This replica is alive until `alive_until`; dead replicas are forgotten after a while.
WITH gone AS (
    DELETE FROM replicas WHERE alive_until < $3::timestamptz - interval '1 hour'
)
INSERT INTO replicas (replica_id, alive_until)
VALUES ($1::text, $2::timestamptz)
ON CONFLICT (replica_id) DO UPDATE SET alive_until = EXCLUDED.alive_until;

-- name: count_live_replicas
-- Replicas alive now (this one included once it has beaten).
SELECT count(*)::int FROM replicas WHERE alive_until > $1::timestamptz;

-- name: forget_replica
-- A replica stopping cleanly leaves at once, so the others take its senders without waiting.
DELETE FROM replicas WHERE replica_id = $1::text;

-- name: renew_sender_leases
-- Extend this replica's leases on the given senders; returns those it still holds.
UPDATE senders
SET lease_until = $3::timestamptz
WHERE lease_owner = $1::text AND sender_id = ANY($2::text[]) AND status = 'active'
RETURNING sender_id;

-- name: acquire_sender_leases
-- Take up to `want` sendable senders that nobody holds (or whose holder went silent).
UPDATE senders s
SET lease_owner = $1::text, lease_until = $3::timestamptz
WHERE s.sender_id IN (
    SELECT sender_id
    FROM senders
    WHERE status = 'active'
      AND (lease_owner IS NULL OR lease_until < $2::timestamptz)
    ORDER BY sender_id
    LIMIT $4::int
    FOR UPDATE SKIP LOCKED
)
RETURNING s.*;

-- name: release_sender_leases
-- Give senders back (rebalancing or stopping) so another replica can take them at once.
UPDATE senders
SET lease_owner = NULL, lease_until = NULL
WHERE lease_owner = $1::text AND sender_id = ANY($2::text[]);
