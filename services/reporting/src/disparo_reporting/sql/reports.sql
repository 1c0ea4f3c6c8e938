-- Reads of the projections behind the HTTP API.

-- name: get_message
-- One message's current projection.
SELECT message_id, state, campaign_id, kind, sender, attempts, dead, last_error_code
FROM messages WHERE message_id = $1::uuid;

-- name: get_history
-- A message's statuses in the order they happened.
SELECT status, at, detail FROM message_history
WHERE message_id = $1::uuid
ORDER BY at, message_state_rank(CASE status WHEN 'failed' THEN 'retrying' ELSE status END);

-- name: totals_by_state
-- How many messages are in each state.
SELECT state, count(*) AS count FROM messages GROUP BY state ORDER BY state;

-- name: overall_activity
-- Sends in the last minute and hour before $1, and the totals behind the global rates.
SELECT
    count(*) FILTER (WHERE sent_at > $1::timestamptz - interval '1 minute'
                       AND sent_at <= $1::timestamptz) AS sent_last_minute,
    count(*) FILTER (WHERE sent_at > $1::timestamptz - interval '1 hour'
                       AND sent_at <= $1::timestamptz) AS sent_last_hour,
    count(*) FILTER (WHERE sent_at IS NOT NULL) AS sent,
    count(*) FILTER (WHERE delivered_at IS NOT NULL OR read_at IS NOT NULL) AS delivered,
    (SELECT count(DISTINCT message_id) FROM replies WHERE message_id IS NOT NULL) AS replied
FROM messages;

-- name: get_campaign
-- A campaign's lifecycle projection.
SELECT campaign_id, name, status, audience_size, started_at, finished_at
FROM campaigns WHERE campaign_id = $1::uuid;

-- name: campaign_funnel
-- The funnel of one campaign, computed over its messages (indexed by campaign_id).
SELECT
    count(*) AS messages,
    count(*) FILTER (WHERE m.state = 'requested') AS requested,
    count(*) FILTER (WHERE m.state <> 'requested') AS enqueued,
    count(*) FILTER (WHERE m.sent_at IS NOT NULL) AS sent,
    count(*) FILTER (WHERE m.delivered_at IS NOT NULL OR m.read_at IS NOT NULL) AS delivered,
    count(*) FILTER (WHERE m.read_at IS NOT NULL) AS read,
    count(*) FILTER (WHERE r.first_reply_at IS NOT NULL) AS replied,
    count(*) FILTER (WHERE m.failed_at IS NOT NULL) AS failed,
    count(*) FILTER (WHERE m.dead) AS dead,
    count(*) FILTER (
        WHERE m.last_error_code = '131050'
           OR (c.opted_out AND c.changed_at >= coalesce(m.sent_at, m.enqueued_at, m.requested_at))
    ) AS opted_out,
    count(*) FILTER (WHERE m.state IN ('enqueued', 'retrying')) AS pending,
    percentile_cont(0.5) WITHIN GROUP (
        ORDER BY extract(epoch FROM r.first_reply_at - m.sent_at)
    ) AS median_seconds_to_first_reply
FROM messages m
LEFT JOIN LATERAL (
    SELECT min(at) AS first_reply_at FROM replies WHERE replies.message_id = m.message_id
) r ON true
LEFT JOIN consent c ON c.phone = m.phone
WHERE m.campaign_id = $1::uuid;

-- name: campaign_top_errors
-- The most frequent last error codes of a campaign's messages.
SELECT last_error_code AS code, count(*) AS count
FROM messages
WHERE campaign_id = $1::uuid AND last_error_code IS NOT NULL
GROUP BY last_error_code
ORDER BY count DESC, code
LIMIT $2::int;

-- name: campaign_sends_per_hour
-- Sends of a campaign per UTC hour.
SELECT date_trunc('hour', sent_at, 'UTC') AS hour, count(*) AS sent
FROM messages
WHERE campaign_id = $1::uuid AND sent_at IS NOT NULL
GROUP BY 1 ORDER BY 1;

-- name: campaign_messages_page
-- One keyset page of a campaign's messages for the CSV export, after message id $2.
SELECT m.message_id, m.kind, m.sender, m.phone, m.state, m.attempts, m.requested_at,
       m.enqueued_at, m.sent_at, m.delivered_at, m.read_at, m.failed_at, m.last_error_code,
       m.dead,
       (SELECT min(at) FROM replies r WHERE r.message_id = m.message_id) AS first_reply_at
FROM messages m
WHERE m.campaign_id = $1::uuid AND m.message_id > $2::uuid
ORDER BY m.message_id
LIMIT $3::int;

-- name: campaign_known
-- Whether reporting has heard of a campaign at all.
SELECT EXISTS (SELECT 1 FROM campaigns WHERE campaign_id = $1::uuid)
    OR EXISTS (SELECT 1 FROM messages WHERE campaign_id = $1::uuid);
