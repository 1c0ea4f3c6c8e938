-- Doubtful sends (state 'in_doubt'): taken in batches, matched to provider echoes or to what the
-- provider says it sent, then settled as sent, put back in line, or held for a person. Every
-- settlement is fenced by attempt and state.

-- name: take_in_doubt
-- Lock up to $1 doubtful messages not held for a person, after the page cursor ($2, $3), oldest
-- doubt first, with their sender's provider, number and API.
SELECT m.message_id, m.attempt, m.max_attempts, m.phone, m.body, m.kind, m.priority,
       m.campaign_id, m.contact_id, m.conversation_id, m.sender_id, m.claimed_at,
       m.in_doubt_since, m.enqueued_at, s.provider, s.address, s.base_url, s.credential_ref
FROM messages m
LEFT JOIN senders s ON s.sender_id = m.sender_id
WHERE m.state = 'in_doubt' AND m.in_doubt_held_at IS NULL
  AND (m.in_doubt_since, m.message_id) > ($2::timestamptz, $3::uuid)
ORDER BY m.in_doubt_since, m.message_id
LIMIT $1::int
FOR UPDATE OF m SKIP LOCKED;

-- name: find_echoes_for_in_doubt
-- Echoes that may prove doubtful sends: those naming one of the messages ($1), and those with
-- the same number, recipient and text ($2..$5) stamped between $6 and $7. `owned` says the
-- provider id is already recorded on one of our messages (that echo is some other send's).
SELECT e.provider, e.provider_message_id, e.address, e.message_id, e.recipient, e.body_sha256,
       e.at, false AS owned
FROM provider_echoes e
WHERE e.message_id = ANY($1::uuid[])
UNION
SELECT e.provider, e.provider_message_id, e.address, e.message_id, e.recipient, e.body_sha256,
       e.at,
       EXISTS (SELECT 1 FROM all_messages o WHERE o.provider_message_id = e.provider_message_id)
FROM provider_echoes e
JOIN unnest($2::text[], $3::text[], $4::text[], $5::bytea[]) AS k (provider, address, recipient,
                                                                   body_sha256)
  ON e.provider = k.provider AND e.address = k.address AND e.recipient = k.recipient
     AND e.body_sha256 = k.body_sha256
WHERE e.recipient IS NOT NULL AND e.at BETWEEN $6::timestamptz AND $7::timestamptz;

-- name: settle_in_doubt_as_sent
-- The provider said it sent them: sent with its id, at the time it gave.
WITH d AS (
    SELECT *
    FROM unnest($1::uuid[], $2::int[], $3::text[], $4::timestamptz[])
         AS d(message_id, attempt, provider_message_id, sent_at)
)
UPDATE messages m
SET state = 'sent', provider_message_id = d.provider_message_id, sent_at = d.sent_at,
    finished_at = $5::timestamptz, in_doubt_since = NULL
FROM d
WHERE m.message_id = d.message_id AND m.attempt = d.attempt AND m.state = 'in_doubt'
RETURNING m.message_id;

-- name: give_up_in_doubt
-- No echo within the grace: the provider most likely never took the send. Back in line (at
-- least once) no earlier than the retry time chosen when it became doubtful; the attempt stays
-- spent, so a message with none left is dead.
WITH d AS (
    SELECT * FROM unnest($1::uuid[], $2::int[]) AS d(message_id, attempt)
)
UPDATE messages m
SET state = CASE WHEN m.attempt < m.max_attempts THEN 'queued' ELSE 'dead' END,
    due_at = greatest(m.due_at, $3::timestamptz),
    in_doubt_since = NULL,
    finished_at = CASE WHEN m.attempt < m.max_attempts THEN NULL ELSE $3::timestamptz END
FROM d
WHERE m.message_id = d.message_id AND m.attempt = d.attempt AND m.state = 'in_doubt'
RETURNING m.message_id, m.campaign_id, m.attempt, m.state, m.due_at, m.last_error_code,
          m.last_error;

-- name: owned_provider_ids
-- Which of these provider ids ($1) are already recorded on one of our messages, archived or not.
SELECT provider_message_id FROM all_messages WHERE provider_message_id = ANY($1::text[]);

-- name: lock_in_doubt
-- Lock again, for their settlement, the doubts ($1, at attempts $2) still open after a lookup.
SELECT m.message_id, m.attempt, m.phone, m.kind, m.campaign_id, m.contact_id,
       m.conversation_id, m.sender_id
FROM messages m
JOIN unnest($1::uuid[], $2::int[]) AS d(message_id, attempt)
  ON m.message_id = d.message_id AND m.attempt = d.attempt
WHERE m.state = 'in_doubt' AND m.in_doubt_held_at IS NULL
FOR UPDATE OF m SKIP LOCKED;

-- name: hold_in_doubt
-- Nothing can tell whether the provider took them, and their kind is sent at most once: held
-- 'in_doubt' for a person from $3 on.
WITH d AS (
    SELECT * FROM unnest($1::uuid[], $2::int[]) AS d(message_id, attempt)
)
UPDATE messages m
SET in_doubt_held_at = $3::timestamptz
FROM d
WHERE m.message_id = d.message_id AND m.attempt = d.attempt AND m.state = 'in_doubt'
  AND m.in_doubt_held_at IS NULL
RETURNING m.message_id, m.campaign_id, m.attempt;

-- name: requeue_held_in_doubt
-- A person decided: the held doubts (of campaign $1, or all when null; only those in $3 when
-- given) back in line at $2, with one more attempt.
UPDATE messages
SET state = 'queued', due_at = $2::timestamptz, rank_at = $2::timestamptz,
    max_attempts = greatest(max_attempts, attempt + 1), in_doubt_since = NULL,
    in_doubt_held_at = NULL, finished_at = NULL
WHERE state = 'in_doubt' AND in_doubt_held_at IS NOT NULL AND phone <> ''  -- not erased
  AND ($1::uuid IS NULL OR campaign_id = $1::uuid)
  AND ($3::uuid[] IS NULL OR message_id = ANY($3::uuid[]))
RETURNING message_id, campaign_id, kind, sender_id, due_at, attempt;

-- name: settle_in_doubt_by_person
-- A person checked that message $1 went out: sent (with the provider's id $2 when they have it),
-- at the latest moment it may have gone (when its doubt began). Only while it is in doubt.
UPDATE messages
SET state = 'sent', provider_message_id = $2::text,
    sent_at = coalesce(in_doubt_since, $3::timestamptz), finished_at = $3::timestamptz,
    in_doubt_since = NULL, in_doubt_held_at = NULL
WHERE message_id = $1::uuid AND state = 'in_doubt'
RETURNING message_id, campaign_id, contact_id, conversation_id, kind, sender_id, attempt, sent_at;

-- name: count_held_in_doubt
-- Doubts held for a person, by campaign (null: messages of no campaign).
SELECT campaign_id, count(*)::bigint AS held
FROM messages
WHERE state = 'in_doubt' AND in_doubt_held_at IS NOT NULL
GROUP BY campaign_id;

-- name: prune_echoes
-- Forget echoes older than the retention: no send stays in doubt that long.
DELETE FROM provider_echoes WHERE received_at < $1::timestamptz;

-- name: record_settlements
-- How these doubts (ids $1 at attempts $2, kinds $3) were settled ($4) at $5; the new verdicts.
INSERT INTO in_doubt_settlements (message_id, attempt, kind, outcome, settled_at)
SELECT s.message_id, s.attempt, s.kind, s.outcome, $5::timestamptz
FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[]) AS s(message_id, attempt, kind, outcome)
ON CONFLICT DO NOTHING
RETURNING outcome;

-- name: settlements_by_outcome
-- Doubts settled since $1, by outcome and message kind.
SELECT outcome, kind, count(*)::bigint AS messages
FROM in_doubt_settlements
WHERE settled_at >= $1::timestamptz
GROUP BY outcome, kind
ORDER BY outcome, kind;

-- name: prune_settlements
-- Forget settlements older than the echoes' retention.
DELETE FROM in_doubt_settlements WHERE settled_at < $1::timestamptz;
