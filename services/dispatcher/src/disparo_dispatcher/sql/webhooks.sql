-- name: find_messages_for_statuses
-- Our messages named by a status webhook, by our own id (Cloud callback data) or the provider's id,
-- archived or not: delivered and read arrive after the send, often after the move.
SELECT message_id, campaign_id, contact_id, phone, attempt, provider_message_id, trace_context
FROM all_messages
WHERE message_id = ANY($1::uuid[])
   OR (provider_message_id IS NOT NULL AND provider_message_id = ANY($2::text[]));

-- name: record_status_facts
-- Insert facts not told yet; the rows returned are the facts this transaction must tell.
INSERT INTO message_status_facts (message_id, fact, provider_message_id, at)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[])
ON CONFLICT (message_id, fact) DO NOTHING
RETURNING message_id, fact;

-- name: record_inbound_receipts
-- Insert inbound message ids not seen yet; the rows returned are the new ones.
INSERT INTO inbound_receipts (provider, provider_message_id, recorded_at)
SELECT provider, provider_message_id, $3::timestamptz
FROM unnest($1::text[], $2::text[]) AS t (provider, provider_message_id)
ON CONFLICT (provider, provider_message_id) DO NOTHING
RETURNING provider, provider_message_id;

-- name: find_senders_by_address
-- Our sender ids for (provider, address) pairs: Evolution instance or Cloud phone-number id.
SELECT provider, address, sender_id
FROM senders
WHERE (provider, address) IN (SELECT * FROM unnest($1::text[], $2::text[]));

-- name: park_pending_statuses
-- Keep statuses whose message is not known yet; a repeat of one already waiting changes nothing.
INSERT INTO pending_statuses
    (provider, provider_message_id, status, address, at, error_code, error, received_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                     $6::text[], $7::text[], $8::timestamptz[])
ON CONFLICT (provider, provider_message_id, status) DO NOTHING;

-- name: take_resolvable_pending_statuses
-- Waiting statuses whose message now has its provider id, removed as they are taken (up to $1).
WITH taken AS (
    SELECT p.provider, p.provider_message_id, p.status
    FROM pending_statuses p
    WHERE EXISTS (SELECT 1 FROM all_messages m WHERE m.provider_message_id = p.provider_message_id)
    ORDER BY p.received_at
    LIMIT $1::int
    FOR UPDATE SKIP LOCKED
)
DELETE FROM pending_statuses p
USING taken
WHERE (p.provider, p.provider_message_id, p.status)
    = (taken.provider, taken.provider_message_id, taken.status)
RETURNING p.provider, p.provider_message_id, p.status, p.address, p.at, p.error_code, p.error;

-- name: expire_pending_statuses
-- Drop statuses that waited longer than the TTL: their send was made outside disparo.
DELETE FROM pending_statuses WHERE received_at < $1::timestamptz;

-- name: prune_inbound_receipts
-- Forget inbound ids older than any provider's retry horizon.
DELETE FROM inbound_receipts WHERE recorded_at < $1::timestamptz;

-- name: record_send_echoes
-- Remember sends the providers say they made (one row per provider id); repeats change nothing.
INSERT INTO provider_echoes
    (provider, provider_message_id, address, message_id, recipient, body_sha256, at, received_at)
SELECT provider, provider_message_id, address, message_id, recipient, body_sha256, at,
       $8::timestamptz
FROM unnest($1::text[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::bytea[],
            $7::timestamptz[])
     AS e (provider, provider_message_id, address, message_id, recipient, body_sha256, at)
ON CONFLICT (provider, provider_message_id) DO NOTHING;
