-- The campaigns benchmark reads the dispatcher's queue (schema "dispatcher") to see what arrived.

-- name: persisted_messages
-- Messages of one campaign the dispatcher holds in its queue, whatever their state.
SELECT count(*)::bigint
FROM all_messages
WHERE campaign_id = $1::uuid;

-- name: campaign_states
-- The campaign's messages by state and whether a sender was chosen (none is, without senders).
SELECT state, (sender_id IS NOT NULL) AS has_sender, count(*)::bigint AS messages
FROM all_messages
WHERE campaign_id = $1::uuid
GROUP BY 1, 2
ORDER BY 3 DESC;
