-- Writes of the conversation state; each is safe to repeat and to receive out of order.

-- name: record_outbound
-- Our messages went out in conversations (parallel arrays of conversation, contact, campaign
-- and send time; one statement per message.sent batch): each conversation's latest outbound
-- time only moves forward. A batch may name a conversation several times, and an upsert may
-- touch a row only once, so each conversation comes once: its latest send, and the contact and
-- campaign of its earliest send that names them (they fill only what the row does not know).
INSERT INTO conversations AS c (conversation_id, contact_id, campaign_id, last_outbound_at)
SELECT conversation_id,
       (array_agg(contact_id ORDER BY sent_at, contact_id)
            FILTER (WHERE contact_id IS NOT NULL))[1],
       (array_agg(campaign_id ORDER BY sent_at, campaign_id)
            FILTER (WHERE campaign_id IS NOT NULL))[1],
       max(sent_at)
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::timestamptz[])
     AS m (conversation_id, contact_id, campaign_id, sent_at)
GROUP BY conversation_id
ORDER BY conversation_id  -- one lock order, so two batches touching the same rows never deadlock
ON CONFLICT (conversation_id) DO UPDATE SET
    contact_id = coalesce(c.contact_id, excluded.contact_id),
    campaign_id = coalesce(c.campaign_id, excluded.campaign_id),
    last_outbound_at = greatest(c.last_outbound_at, excluded.last_outbound_at),
    updated_at = now();

-- name: record_requested
-- Messages requested in conversations (a campaign's fan-out, a recruiter's message, a
-- follow-up): each opens its conversation or fills what the conversation does not know yet.
-- A campaign or first-contact message opens it at primeiro_contato under automation; any other
-- opens it without a stage (no follow-ups until someone sets one). Parallel arrays, one
-- statement per event, so a 2,000-message fan-out batch is one round trip.
INSERT INTO conversations AS c
    (conversation_id, contact_id, phone, contact_name, campaign_id, kind, stage, controlled_by,
     opened_at)
SELECT conversation_id, contact_id, phone, contact_name, campaign_id, kind,
       CASE WHEN kind IN ('campaign', 'first_contact') THEN 'primeiro_contato' END,
       'automation', $7::timestamptz
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::text[])
     AS m (conversation_id, contact_id, phone, contact_name, campaign_id, kind)
ORDER BY conversation_id  -- one lock order, so two batches touching the same rows never deadlock
ON CONFLICT (conversation_id) DO UPDATE SET
    contact_id = coalesce(c.contact_id, excluded.contact_id),
    phone = coalesce(c.phone, excluded.phone),
    contact_name = coalesce(c.contact_name, excluded.contact_name),
    campaign_id = coalesce(c.campaign_id, excluded.campaign_id),
    kind = coalesce(c.kind, excluded.kind),
    stage = coalesce(c.stage, excluded.stage),
    controlled_by = coalesce(c.controlled_by, excluded.controlled_by),
    opened_at = least(c.opened_at, excluded.opened_at),
    updated_at = now();

-- name: record_outbound_entries
-- Our messages in their conversations' timelines (parallel arrays of conversation, message id,
-- kind and send time), keyed by message id so a redelivery adds nothing; a message a batch
-- names twice enters once, at its earliest send.
INSERT INTO conversation_messages (conversation_id, entry_key, direction, kind, at)
SELECT DISTINCT ON (conversation_id, message_id)
       conversation_id, message_id::text, 'out', kind, sent_at
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[])
     AS m (conversation_id, message_id, kind, sent_at)
ORDER BY conversation_id, message_id, sent_at
ON CONFLICT DO NOTHING;

-- name: record_inbound_entries
-- The doctor's message in the timeline of every open conversation of the phone (a reply names
-- only the phone: it belongs to whatever we are talking about with that doctor).
INSERT INTO conversation_messages (conversation_id, entry_key, direction, at, body)
SELECT c.conversation_id, $2::text, 'in', $3::timestamptz, $4::text
FROM conversations c
WHERE c.phone = $1::text AND c.stage IS DISTINCT FROM 'encerrada'
ON CONFLICT DO NOTHING;

-- name: record_inbound
-- The contact wrote to us: the phone's latest inbound time only moves forward.
INSERT INTO phones AS p (phone, last_inbound_at)
VALUES ($1::text, $2::timestamptz)
ON CONFLICT (phone) DO UPDATE SET
    last_inbound_at = greatest(p.last_inbound_at, excluded.last_inbound_at);

-- name: record_stage
-- The recruiter system moved the conversation; an older fact never overwrites a newer one.
INSERT INTO conversations AS c
    (conversation_id, contact_id, phone, contact_name, stage, controlled_by, stage_changed_at)
VALUES ($1::uuid, $2::uuid, $3::text, $4::text, $5::text, $6::text, $7::timestamptz)
ON CONFLICT (conversation_id) DO UPDATE SET
    contact_id = excluded.contact_id,
    phone = coalesce(excluded.phone, c.phone),
    contact_name = coalesce(excluded.contact_name, c.contact_name),
    stage = excluded.stage,
    controlled_by = excluded.controlled_by,
    stage_changed_at = excluded.stage_changed_at,
    changed_at = excluded.stage_changed_at,
    held_by = CASE WHEN excluded.controlled_by = 'human' THEN c.held_by END,
    updated_at = now()
WHERE c.stage_changed_at IS NULL OR excluded.stage_changed_at >= c.stage_changed_at
RETURNING conversation_id;

-- name: record_consent
-- Opt-out or opt-in of a phone; the latest fact by occurrence wins.
INSERT INTO phones AS p (phone, opted_out, consent_changed_at)
VALUES ($1::text, $2::boolean, $3::timestamptz)
ON CONFLICT (phone) DO UPDATE SET
    opted_out = excluded.opted_out,
    consent_changed_at = excluded.consent_changed_at
WHERE p.consent_changed_at IS NULL OR excluded.consent_changed_at >= p.consent_changed_at;

-- name: get_conversation
-- One conversation with its phone facts and follow-ups in the current stage.
SELECT c.conversation_id, c.contact_id, c.stage, c.controlled_by, c.last_outbound_at,
       p.last_inbound_at, coalesce(p.opted_out, false) AS opted_out, c.phone IS NOT NULL AS has_phone,
       (SELECT count(*) FROM followups f
         WHERE f.conversation_id = c.conversation_id AND f.stage = c.stage) AS followups_in_stage,
       (SELECT max(requested_at) FROM followups f
         WHERE f.conversation_id = c.conversation_id AND f.stage = c.stage)
           AS last_followup_requested_at
FROM conversations c
LEFT JOIN phones p ON p.phone = c.phone
WHERE c.conversation_id = $1::uuid;

-- name: record_followups_sent
-- Follow-ups we requested went out (parallel arrays of message id and send time): the first
-- send time is kept, the earliest when a batch names a follow-up twice.
UPDATE followups f SET sent_at = s.sent_at
FROM (
    SELECT message_id, min(sent_at) AS sent_at
    FROM unnest($1::uuid[], $2::timestamptz[]) AS m (message_id, sent_at)
    GROUP BY message_id
) s
WHERE f.message_id = s.message_id AND f.sent_at IS NULL;

-- name: record_followup_cancelled
-- A follow-up we requested was cancelled by the dispatcher, and why.
UPDATE followups SET cancelled_reason = $2::text
WHERE message_id = $1::uuid AND sent_at IS NULL;
