-- name: forget_conversations
-- An erased doctor's conversations keep their ids, stages and times (counts) but no person;
-- without a phone none of them is due a follow-up again.
UPDATE conversations SET phone = NULL, contact_name = NULL, updated_at = now()
WHERE contact_id = $1::uuid OR phone = $2::text;

-- name: forget_phone
-- Last reply and consent known for the erased phone.
DELETE FROM phones WHERE phone = $1::text;
