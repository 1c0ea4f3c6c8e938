-- Writes of what message events say about messages, many at a time (one event or a batch).

-- name: project_message_facts
-- Applies facts about messages ($16: their order of arrival); a state only replaces a
-- lower-ranked one, times keep the first. The facts of one message are first folded the way
-- applying them one after another in that order would leave the row (ids and kind: the first
-- given; sender: the last given; the error of the latest failure, the last one on a tie), then
-- the fold is applied the same way, rows in message_id order (two batches never wait on each
-- other in a cycle). Returns each message's phone (NULL until its request is projected).
WITH fact AS (
    SELECT *
    FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[],
                $7::int[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[],
                $11::timestamptz[], $12::timestamptz[], $13::text[], $14::text[], $15::boolean[],
                $16::int[])
        AS f (message_id, campaign_id, conversation_id, kind, sender, state, attempts,
              enqueued_at, sent_at, delivered_at, read_at, failed_at, error_code, error, dead,
              position)
), folded AS (
    SELECT message_id,
           (array_agg(campaign_id ORDER BY position)
                FILTER (WHERE campaign_id IS NOT NULL))[1] AS campaign_id,
           (array_agg(conversation_id ORDER BY position)
                FILTER (WHERE conversation_id IS NOT NULL))[1] AS conversation_id,
           (array_agg(kind ORDER BY position) FILTER (WHERE kind IS NOT NULL))[1] AS kind,
           (array_agg(sender ORDER BY position DESC)
                FILTER (WHERE sender IS NOT NULL))[1] AS sender,
           (array_agg(state ORDER BY message_state_rank(state) DESC, position))[1] AS state,
           max(attempts) AS attempts,
           min(enqueued_at) AS enqueued_at,
           min(sent_at) AS sent_at,
           min(delivered_at) AS delivered_at,
           min(read_at) AS read_at,
           max(failed_at) AS failed_at,
           (array_agg(error_code ORDER BY failed_at DESC, position DESC)
                FILTER (WHERE failed_at IS NOT NULL))[1] AS error_code,
           (array_agg(error ORDER BY failed_at DESC, position DESC)
                FILTER (WHERE failed_at IS NOT NULL))[1] AS error,
           bool_or(dead) AS dead
    FROM fact
    GROUP BY message_id
)
INSERT INTO messages AS m
    (message_id, campaign_id, conversation_id, kind, sender, state, attempts, enqueued_at,
     sent_at, delivered_at, read_at, failed_at, last_error_code, last_error, dead)
SELECT message_id, campaign_id, conversation_id, kind, sender, state, coalesce(attempts, 0),
       enqueued_at, sent_at, delivered_at, read_at, failed_at, error_code, error,
       coalesce(dead, false)
FROM folded
ORDER BY message_id
ON CONFLICT (message_id) DO UPDATE SET
    campaign_id = coalesce(m.campaign_id, excluded.campaign_id),
    conversation_id = coalesce(m.conversation_id, excluded.conversation_id),
    kind = coalesce(m.kind, excluded.kind),
    sender = coalesce(excluded.sender, m.sender),
    state = CASE WHEN message_state_rank(excluded.state) > message_state_rank(m.state)
                 THEN excluded.state ELSE m.state END,
    attempts = greatest(m.attempts, excluded.attempts),
    enqueued_at = least(m.enqueued_at, excluded.enqueued_at),
    sent_at = least(m.sent_at, excluded.sent_at),
    delivered_at = least(m.delivered_at, excluded.delivered_at),
    read_at = least(m.read_at, excluded.read_at),
    failed_at = greatest(m.failed_at, excluded.failed_at),
    last_error_code = CASE WHEN excluded.failed_at >= coalesce(m.failed_at, '-infinity')
                           THEN excluded.last_error_code ELSE m.last_error_code END,
    last_error = CASE WHEN excluded.failed_at >= coalesce(m.failed_at, '-infinity')
                      THEN excluded.last_error ELSE m.last_error END,
    dead = m.dead OR excluded.dead,
    updated_at = now()
RETURNING message_id, phone;

-- name: add_history
-- Entries of messages' status histories (one per message and event; a repeat is ignored).
INSERT INTO message_history (message_id, event_id, status, at, detail)
SELECT *
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::text[])
ON CONFLICT DO NOTHING;

-- name: message_phones
-- The phones, where known, of these messages: whose attribution locks a batch of sends takes.
SELECT DISTINCT phone FROM messages WHERE message_id = ANY($1::uuid[]) AND phone IS NOT NULL;

-- name: record_replies
-- Providers stamp a reply in whole seconds, so a quick answer can bear a time up to a second
-- before our own record of the send: a send counts as before a reply within 2 s of slack.
-- But never a message requested after the reply reached us (received_at, the dispatcher's
-- receipt): the recruiter's answer a second later must not take the reply from the message it
-- answers. Stores inbound messages (their first words only), each attributed to the latest
-- message sent to that phone in the window ($6).
INSERT INTO replies (event_id, phone, at, preview, message_id, received_at)
SELECT r.event_id, r.phone, r.at, r.preview, (
    SELECT m.message_id FROM messages m
    WHERE m.phone = r.phone
      AND m.sent_at <= r.at + interval '2 seconds'
      AND m.sent_at > r.at - $6::interval
      AND coalesce(coalesce(m.requested_at, m.enqueued_at) < r.received_at, true)
    ORDER BY m.sent_at DESC LIMIT 1), r.received_at
FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::text[], $5::timestamptz[])
    AS r (event_id, phone, at, preview, received_at)
ON CONFLICT DO NOTHING;
