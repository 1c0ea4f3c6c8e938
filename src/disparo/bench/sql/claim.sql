-- The claim benchmark's own statements: a backlog made in SQL, straight into the queue table.

-- name: add_sender
INSERT INTO senders (sender_id, provider, address, base_url, credential_ref)
VALUES ($1, 'evolution', $1, 'http://claim-bench.invalid', 'env:CLAIM_BENCH')
ON CONFLICT DO NOTHING;

-- name: add_queued
-- Messages $1..$2 of one campaign, due a minute ago, spread over the senders round robin. Their
-- ids sort by recipient number, as a campaign's do (campaign-api's ``campaign_message_id``).
INSERT INTO messages (message_id, idempotency_key, phone, kind, body, priority, campaign_id,
                      time_zone, state, due_at, rank_at, max_attempts, sender_id, requested_at,
                      enqueued_at)
SELECT ('01a240ec-f200-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, 'claim-bench:' || g, '+55119' || lpad(g::text, 8, '0'), 'campaign',
       'Olá, doutora!', 3, $4::uuid, 'America/Sao_Paulo', 'queued',
       $3::timestamptz - interval '1 minute', $3::timestamptz + g * interval '1 millisecond', 5,
       ($5::text[])[1 + g % array_length($5::text[], 1)], $3::timestamptz, $3::timestamptz
FROM generate_series($1::bigint, $2::bigint) AS g;
