-- Writes of the projections: each statement applies one fact and is safe to repeat or reorder.

-- name: project_requested
-- Creates the rows of newly requested messages, or fills what later events could not carry:
-- kind, campaign, conversation, the phone replies are matched on, and the recipient snapshot.
INSERT INTO messages AS m
    (message_id, campaign_id, conversation_id, kind, phone, state, requested_at,
     contact_name, specialty, region)
SELECT r.message_id, r.campaign_id, r.conversation_id, r.kind, r.phone, 'requested', $6::timestamptz,
       r.contact_name, r.specialty, r.region
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[],
            $7::text[], $8::text[], $9::text[])
    AS r (message_id, campaign_id, conversation_id, kind, phone, contact_name, specialty, region)
ON CONFLICT (message_id) DO UPDATE SET
    campaign_id = coalesce(m.campaign_id, excluded.campaign_id),
    conversation_id = coalesce(m.conversation_id, excluded.conversation_id),
    kind = coalesce(m.kind, excluded.kind),
    phone = coalesce(m.phone, excluded.phone),
    requested_at = least(m.requested_at, excluded.requested_at),
    contact_name = coalesce(m.contact_name, excluded.contact_name),
    specialty = coalesce(m.specialty, excluded.specialty),
    region = coalesce(m.region, excluded.region),
    updated_at = now();

-- name: add_requested_history
-- One "requested" history entry per message of a batch request.
INSERT INTO message_history (message_id, event_id, status, at, detail)
SELECT message_id, $2::uuid, 'requested', $3::timestamptz, NULL
FROM unnest($1::uuid[]) AS message_id
ON CONFLICT DO NOTHING;

-- name: reattribute_replies
-- After sends or phones become known late, re-attributes the replies that fall in their windows.
UPDATE replies r SET message_id = (
    SELECT m2.message_id FROM messages m2
    WHERE m2.phone = r.phone
      AND m2.sent_at <= r.at + interval '2 seconds'
      AND m2.sent_at > r.at - $2::interval
      AND coalesce(coalesce(m2.requested_at, m2.enqueued_at) < r.received_at, true)
    ORDER BY m2.sent_at DESC LIMIT 1)
FROM messages m
WHERE m.message_id = ANY($1::uuid[]) AND m.sent_at IS NOT NULL
  AND r.phone = m.phone AND r.at >= m.sent_at - interval '2 seconds'
  AND r.at < m.sent_at + $2::interval;

-- name: project_campaign
-- Applies one lifecycle fact; the status follows the latest fact by occurrence, not arrival.
INSERT INTO campaigns AS c
    (campaign_id, name, status, status_at, audience_size, started_at, finished_at, created_at)
VALUES ($1::uuid, $2::text, $3::text, $4::timestamptz, $5::int, $6::timestamptz, $7::timestamptz,
        $8::timestamptz)
ON CONFLICT (campaign_id) DO UPDATE SET
    name = coalesce(excluded.name, c.name),
    status = CASE WHEN c.status_at IS NULL OR excluded.status_at >= c.status_at
                  THEN excluded.status ELSE c.status END,
    status_at = greatest(c.status_at, excluded.status_at),
    audience_size = coalesce(excluded.audience_size, c.audience_size),
    started_at = least(c.started_at, excluded.started_at),
    finished_at = least(c.finished_at, excluded.finished_at),
    created_at = least(c.created_at, excluded.created_at);

-- name: project_consent
-- Keeps the latest consent fact per phone.
INSERT INTO consent AS c (phone, opted_out, changed_at)
VALUES ($1::text, $2::boolean, $3::timestamptz)
ON CONFLICT (phone) DO UPDATE SET opted_out = excluded.opted_out, changed_at = excluded.changed_at
WHERE excluded.changed_at >= c.changed_at;

-- name: truncate_projections
-- Empties every read model before a replay.
TRUNCATE messages, message_history, replies, campaigns, consent, conversation_controls;

-- name: forget_inbox
-- Lets a replay apply again the events this service already handled.
DELETE FROM inbox WHERE consumer = $1::text;

-- name: project_followup_attempts
-- Which follow-up each requested message is (messages of a batch that are follow-ups only).
UPDATE messages m SET followup_attempt = f.attempt, followup_rule = f.rule
FROM unnest($1::uuid[], $2::int[], $3::text[]) AS f (message_id, attempt, rule)
WHERE m.message_id = f.message_id;

-- name: project_control_change
-- A person took a conversation over, or it was closed: the first time of each is kept.
INSERT INTO conversation_controls AS cc (conversation_id, taken_over_at, closed_at)
VALUES ($1::uuid,
        CASE WHEN $2::text = 'human' THEN $4::timestamptz END,
        CASE WHEN $3::text = 'encerrada' THEN $4::timestamptz END)
ON CONFLICT (conversation_id) DO UPDATE SET
    taken_over_at = least(cc.taken_over_at, excluded.taken_over_at),
    closed_at = least(cc.closed_at, excluded.closed_at);
