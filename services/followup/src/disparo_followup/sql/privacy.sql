-- name: remember_erasure
-- The erased phone as a digest, so a late event about the doctor is forgotten too.
INSERT INTO erased_phones (phone_sha256, erased_at)
VALUES (sha256(convert_to($1::text, 'UTF8')), $2::timestamptz)
ON CONFLICT (phone_sha256) DO NOTHING;

-- name: erased_among
-- Which of these phones belong to doctors erased after $2 (the event's time).
SELECT p.phone
FROM unnest($1::text[]) AS p (phone)
JOIN erased_phones e ON e.phone_sha256 = sha256(convert_to(p.phone, 'UTF8'))
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
