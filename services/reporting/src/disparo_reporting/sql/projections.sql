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

-- name: project_enqueued
-- The messages of one `message.enqueued` batch: each now waits in a sender's queue.
INSERT INTO messages AS m (message_id, campaign_id, kind, sender, state, enqueued_at)
SELECT e.message_id, e.campaign_id, e.kind, e.sender, 'enqueued', $5::timestamptz
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[])
    AS e (message_id, campaign_id, kind, sender)
ON CONFLICT (message_id) DO UPDATE SET
    campaign_id = coalesce(m.campaign_id, excluded.campaign_id),
    kind = coalesce(m.kind, excluded.kind),
    sender = coalesce(excluded.sender, m.sender),
    state = CASE WHEN message_state_rank(excluded.state) > message_state_rank(m.state)
                 THEN excluded.state ELSE m.state END,
    enqueued_at = least(m.enqueued_at, excluded.enqueued_at),
    updated_at = now();

-- name: add_enqueued_history
-- One "enqueued" history entry per message of a batch, naming its sender.
INSERT INTO message_history (message_id, event_id, status, at, detail)
SELECT e.message_id, $3::uuid, 'enqueued', $4::timestamptz, 'via ' || e.sender
FROM unnest($1::uuid[], $2::text[]) AS e (message_id, sender)
ON CONFLICT DO NOTHING;

-- name: project_message_fact
-- Applies one fact about a message; a state only replaces a lower-ranked one, times keep the first.
-- Returns the phone replies are matched on (NULL until the message's request is projected).
INSERT INTO messages AS m
    (message_id, campaign_id, conversation_id, kind, sender, state, attempts, enqueued_at,
     sent_at, delivered_at, read_at, failed_at, last_error_code, last_error, dead)
VALUES ($1::uuid, $2::uuid, $3::uuid, $4::text, $5::text, $6::text, coalesce($7::int, 0),
        $8::timestamptz, $9::timestamptz, $10::timestamptz, $11::timestamptz, $12::timestamptz,
        $13::text, $14::text, coalesce($15::boolean, false))
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
RETURNING phone;

-- name: add_history
-- One entry of a message's status history.
INSERT INTO message_history (message_id, event_id, status, at, detail)
VALUES ($1::uuid, $2::uuid, $3::text, $4::timestamptz, $5::text)
ON CONFLICT DO NOTHING;

-- name: record_reply
-- Providers stamp a reply in whole seconds, so a quick answer can bear a time up to a second
-- before our own record of the send: a send counts as before a reply within 2 s of slack.
-- But never a message requested after the reply reached us ($6, the dispatcher's receipt): the
-- recruiter's answer a second later must not take the reply from the message it answers.
-- Stores an inbound message (its first words only), attributed to the latest message sent to that phone in the window.
INSERT INTO replies (event_id, phone, at, preview, message_id, received_at)
VALUES ($1::uuid, $2::text, $3::timestamptz, $5::text, (
    SELECT m.message_id FROM messages m
    WHERE m.phone = $2::text
      AND m.sent_at <= $3::timestamptz + interval '2 seconds'
      AND m.sent_at > $3::timestamptz - $4::interval
      AND coalesce(coalesce(m.requested_at, m.enqueued_at) < $6::timestamptz, true)
    ORDER BY m.sent_at DESC LIMIT 1), $6::timestamptz)
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
