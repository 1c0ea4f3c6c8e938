-- Doubtful sends (state 'in_doubt'): taken in batches, matched to provider echoes, then settled
-- as sent or put back in line. Every settlement is fenced by attempt and state.

-- name: take_in_doubt
-- Lock up to $1 doubtful messages after the page cursor ($2, $3), oldest doubt first, with
-- their sender's provider and number.
SELECT m.message_id, m.attempt, m.max_attempts, m.phone, m.body, m.kind, m.priority,
       m.campaign_id, m.contact_id, m.conversation_id, m.sender_id, m.claimed_at,
       m.in_doubt_since, m.enqueued_at, s.provider, s.address
FROM messages m
LEFT JOIN senders s ON s.sender_id = m.sender_id
WHERE m.state = 'in_doubt' AND (m.in_doubt_since, m.message_id) > ($2::timestamptz, $3::uuid)
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
       EXISTS (SELECT 1 FROM messages o WHERE o.provider_message_id = e.provider_message_id)
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

-- name: prune_echoes
-- Forget echoes older than the retention: no send stays in doubt that long.
DELETE FROM provider_echoes WHERE received_at < $1::timestamptz;
