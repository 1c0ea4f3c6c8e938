-- name: remember_erasure
-- The erased phone as a digest, so a late event about the doctor is forgotten too.
INSERT INTO erased_phones (phone_digest, erased_at)
VALUES (phone_digest($1::text), $2::timestamptz)
ON CONFLICT (phone_digest) DO NOTHING;

-- name: erased_among
-- Which of these phones belong to doctors erased after $2 (the event's time).
SELECT p.phone
FROM unnest($1::text[]) AS p (phone)
JOIN erased_phones e ON e.phone_digest = phone_digest(p.phone)
WHERE e.erased_at >= $2::timestamptz;

-- name: forget_conversations
-- An erased doctor's conversations keep their ids, stages and times (counts) but no person;
-- without a phone none of them is due a follow-up again.
UPDATE conversations SET phone = NULL, contact_name = NULL, updated_at = now()
WHERE contact_id = $1::uuid OR phone = $2::text;

-- name: forget_phone
-- Last reply and consent known for the erased phone.
DELETE FROM phones WHERE phone = $1::text;

-- name: forget_replies
-- What an erased doctor wrote, in the timelines of their conversations (before the phone goes).
UPDATE conversation_messages SET body = NULL
WHERE direction = 'in' AND conversation_id IN (
    SELECT conversation_id FROM conversations WHERE contact_id = $1::uuid OR phone = $2::text
);

-- name: export_conversations
-- A doctor's conversations (LGPD export): purpose, stage, who controls it, the name we use.
SELECT conversation_id, contact_id, campaign_id, kind, contact_name, stage, controlled_by,
       rule_set, opened_at, stage_changed_at, last_outbound_at, updated_at
FROM conversations
WHERE contact_id = $2::uuid OR phone = $1::text
ORDER BY opened_at, conversation_id;

-- name: export_conversation_messages
-- The timelines of those conversations: ours and theirs, with what the doctor wrote.
SELECT conversation_id, direction, kind, at, body
FROM conversation_messages
WHERE conversation_id = ANY($1::uuid[])
ORDER BY at, entry_key;

-- name: export_phone
-- When the phone last wrote to us, and its consent as followup knows it.
SELECT last_inbound_at, opted_out, consent_changed_at FROM phones WHERE phone = $1::text;
