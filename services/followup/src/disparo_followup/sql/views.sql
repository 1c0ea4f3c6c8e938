-- What the HTTP API reads: conversations by filter, one conversation's timeline.

-- name: list_conversations
-- Conversations matching the filters (NULL = any), in id order after the cursor ($5).
SELECT c.conversation_id, c.contact_id, c.campaign_id, c.stage, c.controlled_by, c.held_by,
       c.opened_at, c.last_outbound_at, c.changed_at,
       coalesce(c.rule_set, cp.rule_set_key) AS rule_set,
       p.last_inbound_at, coalesce(p.opted_out, false) AS opted_out
FROM conversations c
LEFT JOIN phones p ON p.phone = c.phone
LEFT JOIN campaign_plans cp ON cp.campaign_id = c.campaign_id
WHERE ($1::uuid IS NULL OR c.contact_id = $1::uuid)
  AND ($2::uuid IS NULL OR c.campaign_id = $2::uuid)
  AND ($3::text IS NULL OR c.stage = $3::text)
  AND ($4::text IS NULL OR c.controlled_by = $4::text)
  AND ($5::uuid IS NULL OR c.conversation_id > $5::uuid)
ORDER BY c.conversation_id
LIMIT $6::int;

-- name: conversation_messages
-- A conversation's messages, oldest first (at most $2).
SELECT entry_key, direction, kind, at, body
FROM conversation_messages
WHERE conversation_id = $1::uuid
ORDER BY at, entry_key
LIMIT $2::int;

-- name: conversation_followups
-- The follow-ups requested in a conversation, oldest first.
SELECT stage, n, message_id, requested_at
FROM followups
WHERE conversation_id = $1::uuid
ORDER BY requested_at, stage, n;

-- name: conversation_row
-- One conversation as the list shows it.
SELECT c.conversation_id, c.contact_id, c.campaign_id, c.stage, c.controlled_by, c.held_by,
       c.opened_at, c.last_outbound_at, c.changed_at,
       coalesce(c.rule_set, cp.rule_set_key) AS rule_set,
       p.last_inbound_at, coalesce(p.opted_out, false) AS opted_out
FROM conversations c
LEFT JOIN phones p ON p.phone = c.phone
LEFT JOIN campaign_plans cp ON cp.campaign_id = c.campaign_id
WHERE c.conversation_id = $1::uuid;

-- name: contact_timeline
-- A doctor's messages across all their conversations (campaigns, follow-ups, replies), newest
-- first, before the cursor ($2 at, $3 entry_key); a reply filed in several open conversations
-- of the phone shows once, under the first of them.
SELECT DISTINCT ON (m.at, m.entry_key)
       m.entry_key, m.direction, m.kind, m.at, m.body, c.conversation_id, c.campaign_id, c.stage
FROM conversations c
JOIN conversation_messages m ON m.conversation_id = c.conversation_id
WHERE c.contact_id = $1::uuid
  AND ($2::timestamptz IS NULL OR (m.at, m.entry_key) < ($2::timestamptz, $3::text))
ORDER BY m.at DESC, m.entry_key DESC, c.conversation_id
LIMIT $4::int;
