-- Reads of the projections behind the HTTP API.

-- name: get_message
-- One message's current projection.
SELECT message_id, state, campaign_id, kind, sender, attempts, dead, last_error_code
FROM messages WHERE message_id = $1::uuid;

-- name: message_times
-- Some messages' state and when each went out, reached the phone and was read (a page of a
-- doctor's timeline in the console); unknown ids are left out.
SELECT message_id, state, sent_at, delivered_at, read_at
FROM messages WHERE message_id = ANY($1::uuid[]);

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
-- The funnel of one campaign over its messages (indexed by campaign_id). A doctor "replied"
-- when a reply is attributed to any message of this campaign sent to that phone (the campaign
-- message or one of its follow-ups); reply times run from this message's send.
SELECT
    count(*) AS messages,
    count(*) FILTER (WHERE m.state = 'requested') AS requested,
    count(*) FILTER (WHERE m.state <> 'requested') AS enqueued,
    count(*) FILTER (WHERE m.sent_at IS NOT NULL) AS sent,
    count(*) FILTER (WHERE m.delivered_at IS NOT NULL OR m.read_at IS NOT NULL) AS delivered,
    count(*) FILTER (WHERE m.read_at IS NOT NULL) AS read,
    count(*) FILTER (WHERE fr.first_reply_at IS NOT NULL) AS replied,
    count(*) FILTER (WHERE m.failed_at IS NOT NULL) AS failed,
    count(*) FILTER (WHERE m.dead) AS dead,
    count(*) FILTER (
        WHERE m.last_error_code = '131050'
           OR (c.opted_out AND c.changed_at >= coalesce(m.sent_at, m.enqueued_at, m.requested_at))
    ) AS opted_out,
    count(*) FILTER (
        WHERE m.last_error_code IN ('131047', 'needs_template', 'template_paused', 'template_disabled')
          AND NOT m.dead
    ) AS needs_template,
    -- held for a person: nothing could tell whether the provider took it (at most once)
    count(*) FILTER (
        WHERE m.last_error_code = 'in_doubt' AND m.sent_at IS NULL AND NOT m.dead
    ) AS in_doubt,
    count(*) FILTER (WHERE m.state IN ('enqueued', 'retrying')) AS pending,
    min(coalesce(m.requested_at, m.enqueued_at, m.sent_at)) AS first_seen_at,
    percentile_cont(0.5) WITHIN GROUP (
        ORDER BY CASE WHEN fr.first_reply_at IS NOT NULL
                 THEN greatest(0, extract(epoch FROM fr.first_reply_at - m.sent_at)) END
    ) AS reply_seconds_p50,
    percentile_cont(0.9) WITHIN GROUP (
        ORDER BY CASE WHEN fr.first_reply_at IS NOT NULL
                 THEN greatest(0, extract(epoch FROM fr.first_reply_at - m.sent_at)) END
    ) AS reply_seconds_p90
FROM messages m
LEFT JOIN LATERAL (
    SELECT min(r.at) AS first_reply_at
    FROM messages a JOIN replies r ON r.message_id = a.message_id
    WHERE a.campaign_id = m.campaign_id AND a.phone = m.phone
) fr ON m.kind IS DISTINCT FROM 'followup' AND m.sent_at IS NOT NULL
LEFT JOIN consent c ON c.phone = m.phone
WHERE m.campaign_id = $1::uuid;

-- name: campaign_errors_by_sender
-- A campaign's messages by sender and last error code, most frequent first within a sender.
SELECT sender, last_error_code AS code, count(*) AS messages,
       count(*) FILTER (WHERE dead) AS dead
FROM messages
WHERE campaign_id = $1::uuid AND last_error_code IS NOT NULL
GROUP BY 1, 2
ORDER BY 1 NULLS LAST, messages DESC, code;

-- name: campaign_top_responders
-- Who answered a campaign: one row per doctor who replied, the most replies first, then the
-- fastest; replies counted over every message of the campaign sent to that phone.
WITH answered AS (
    SELECT m.message_id, m.phone, m.contact_name, m.specialty, m.region, m.sent_at,
           r.at, r.preview,
           row_number() OVER (PARTITION BY m.phone ORDER BY r.at) AS nth,
           count(*) OVER (PARTITION BY m.phone) AS replies
    FROM messages m
    JOIN replies r ON r.message_id = m.message_id
    WHERE m.campaign_id = $1::uuid
)
SELECT phone, contact_name, specialty, region, replies, at AS first_reply_at,
       greatest(0, extract(epoch FROM at - sent_at))::float8 AS seconds_to_first_reply, preview AS first_words
FROM answered
WHERE nth = 1
ORDER BY replies DESC, seconds_to_first_reply, phone
LIMIT $2::int;

-- name: campaign_series
-- A campaign's sent / delivered / read / replied / failed per $2 ('hour' or 'day') in zone $3;
-- each message counts once per step, at the time it reached it.
WITH facts AS (
    SELECT sent_at AS at, 'sent' AS step FROM messages
    WHERE campaign_id = $1::uuid AND sent_at IS NOT NULL
    UNION ALL
    SELECT coalesce(delivered_at, read_at), 'delivered' FROM messages
    WHERE campaign_id = $1::uuid AND (delivered_at IS NOT NULL OR read_at IS NOT NULL)
    UNION ALL
    SELECT read_at, 'read' FROM messages WHERE campaign_id = $1::uuid AND read_at IS NOT NULL
    UNION ALL
    SELECT failed_at, 'failed' FROM messages WHERE campaign_id = $1::uuid AND failed_at IS NOT NULL
    UNION ALL
    SELECT min(r.at), 'replied'
    FROM messages m JOIN replies r ON r.message_id = m.message_id
    WHERE m.campaign_id = $1::uuid
    GROUP BY m.phone
)
SELECT (date_trunc($2::text, at, $3::text) AT TIME ZONE $3::text) AS local_start,
       count(*) FILTER (WHERE step = 'sent') AS sent,
       count(*) FILTER (WHERE step = 'delivered') AS delivered,
       count(*) FILTER (WHERE step = 'read') AS read,
       count(*) FILTER (WHERE step = 'replied') AS replied,
       count(*) FILTER (WHERE step = 'failed') AS failed
FROM facts
GROUP BY 1
ORDER BY 1;

-- name: campaign_messages_page
-- One keyset page of a campaign's doctors for the CSV export (its original messages, after
-- message id $2), with the doctor's first reply to this campaign, the message it came after
-- (replied_after_attempt: 0 the original, n follow-up n) and the follow-ups sent to them.
SELECT m.message_id, m.kind, m.sender, m.phone, m.state, m.dead, m.sent_at,
       m.contact_name, m.specialty, m.region, fr.first_reply_at,
       fr.replied_after_attempt, coalesce(fu.sent, 0) AS followups_sent
FROM messages m
LEFT JOIN LATERAL (
    SELECT r.at AS first_reply_at, coalesce(a.followup_attempt, 0) AS replied_after_attempt
    FROM messages a JOIN replies r ON r.message_id = a.message_id
    WHERE a.campaign_id = m.campaign_id AND a.phone = m.phone
    ORDER BY r.at
    LIMIT 1
) fr ON m.sent_at IS NOT NULL
LEFT JOIN LATERAL (
    SELECT count(*) AS sent
    FROM messages f
    WHERE f.campaign_id = m.campaign_id AND f.phone = m.phone
      AND f.followup_attempt IS NOT NULL AND f.sent_at IS NOT NULL
) fu ON true
WHERE m.campaign_id = $1::uuid AND m.message_id > $2::uuid AND m.followup_attempt IS NULL
ORDER BY m.message_id
LIMIT $3::int;

-- name: campaigns_overview
-- Every campaign that started (or, never started, was created) in [$1, $2), with its figures;
-- {order} and {after} are filled from a fixed list of sort keys (overview.SORT_KEYS).
WITH period AS (
    SELECT campaign_id, name, status, audience_size,
           coalesce(started_at, created_at) AS started_at
    FROM campaigns
    WHERE coalesce(started_at, created_at) >= $1::timestamptz
      AND coalesce(started_at, created_at) < $2::timestamptz
), figures AS (
    SELECT p.campaign_id, p.name, p.status, p.started_at,
           coalesce(p.audience_size, count(m.message_id))::int AS size,
           count(m.sent_at)::int AS sent,
           count(*) FILTER (WHERE m.delivered_at IS NOT NULL OR m.read_at IS NOT NULL)::int
               AS delivered,
           count(m.read_at)::int AS read,
           count(*) FILTER (WHERE EXISTS (
               SELECT 1 FROM replies r WHERE r.message_id = m.message_id))::int AS replied,
           count(*) FILTER (WHERE m.last_error_code = '131050' OR (c.opted_out
               AND c.changed_at >= coalesce(m.sent_at, m.enqueued_at, m.requested_at)))::int
               AS opted_out,
           count(*) FILTER (WHERE m.dead)::int AS dead,
           coalesce(sum(m.attempts) FILTER (WHERE m.dead), 0)::int AS failed_attempts
    FROM period p
    LEFT JOIN messages m ON m.campaign_id = p.campaign_id
    LEFT JOIN consent c ON c.phone = m.phone
    GROUP BY p.campaign_id, p.name, p.status, p.started_at, p.audience_size
), rated AS (
    SELECT f.*,
           delivered::float8 / nullif(sent, 0) AS delivery_rate,
           read::float8 / nullif(sent, 0) AS read_rate,
           replied::float8 / nullif(sent, 0) AS reply_rate,
           opted_out::float8 / nullif(sent, 0) AS opt_out_rate
    FROM figures f
)
SELECT *, {sort_value} AS sort_value FROM rated
WHERE {after}
ORDER BY {sort_value} {direction}, campaign_id {direction}
LIMIT $3::int;

-- name: campaign_known
-- Whether reporting has heard of a campaign at all.
SELECT EXISTS (SELECT 1 FROM campaigns WHERE campaign_id = $1::uuid)
    OR EXISTS (SELECT 1 FROM messages WHERE campaign_id = $1::uuid);
