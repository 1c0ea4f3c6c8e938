-- name: remember_erasure
-- The erased phone as a digest, and the pseudonym its rows carry from now on.
INSERT INTO erased_phones (phone_digest, pseudonym, erased_at)
VALUES (phone_digest($1::text), $2::text, $3::timestamptz)
ON CONFLICT (phone_digest) DO UPDATE SET erased_at = erased_phones.erased_at
RETURNING pseudonym;

-- name: erased_among
-- Which of these phones belong to doctors erased after the time of the event that carried
-- them ($2, one per phone), and their pseudonyms.
SELECT DISTINCT p.phone, e.pseudonym
FROM unnest($1::text[], $2::timestamptz[]) AS p (phone, occurred_at)
JOIN erased_phones e ON e.phone_digest = phone_digest(p.phone)
WHERE e.erased_at >= p.occurred_at;

-- name: forget_phone
-- Counts stay (messages, states, replies attributed to messages, per-doctor grouping under the
-- pseudonym $2); the person goes: phone, name and the first words of replies.
WITH sent AS (
    UPDATE messages SET phone = $2::text, contact_name = NULL WHERE phone = $1::text
), replied AS (
    UPDATE replies SET phone = $2::text, preview = NULL WHERE phone = $1::text
)
DELETE FROM consent WHERE phone = $1::text;

-- name: forget_erased_phones
-- After a rebuild: everything replayed for an erased phone is forgotten again.
WITH sent AS (
    UPDATE messages m SET phone = e.pseudonym, contact_name = NULL
    FROM erased_phones e
    WHERE m.phone IS NOT NULL AND phone_digest(m.phone) = e.phone_digest
), replied AS (
    UPDATE replies r SET phone = e.pseudonym, preview = NULL
    FROM erased_phones e
    WHERE phone_digest(r.phone) = e.phone_digest
)
DELETE FROM consent c
USING erased_phones e
WHERE phone_digest(c.phone) = e.phone_digest;

-- name: expire_message_phones
-- Up to $2 phones whose messages were requested before $1: those messages lose phone and name,
-- and the replies of that phone before $1 their phone and words; each phone gets one random
-- pseudonym ("expired:<uuid>") so a campaign's per-doctor counts hold.
WITH old AS (
    SELECT DISTINCT phone FROM messages
    WHERE phone IS NOT NULL AND phone NOT LIKE 'erased:%' AND phone NOT LIKE 'expired:%'
      AND coalesce(sent_at, requested_at, updated_at) < $1::timestamptz
    LIMIT $2::int
), pseudonyms AS (
    SELECT phone, 'expired:' || gen_random_uuid() AS pseudonym FROM old
), sent AS (
    UPDATE messages m SET phone = p.pseudonym, contact_name = NULL
    FROM pseudonyms p
    WHERE m.phone = p.phone AND coalesce(m.sent_at, m.requested_at, m.updated_at) < $1::timestamptz
), replied AS (
    UPDATE replies r SET phone = p.pseudonym, preview = NULL
    FROM pseudonyms p
    WHERE r.phone = p.phone AND r.at < $1::timestamptz
)
SELECT count(*) FROM pseudonyms;

-- name: expire_reply_phones
-- Replies before $1 still holding a phone (no old message of theirs) lose phone and words.
UPDATE replies SET phone = 'expired:' || gen_random_uuid(), preview = NULL
WHERE event_id IN (
    SELECT event_id FROM replies
    WHERE phone NOT LIKE 'erased:%' AND phone NOT LIKE 'expired:%' AND at < $1::timestamptz
    LIMIT $2::int
);

-- name: export_messages
-- A doctor's messages as reports know them (LGPD export): states, times, the name used.
SELECT message_id, campaign_id, conversation_id, kind, sender, state, attempts,
       last_error_code, contact_name, specialty, region, requested_at, sent_at, delivered_at,
       read_at, failed_at
FROM messages WHERE phone = $1::text
ORDER BY requested_at, message_id;

-- name: export_replies
-- The doctor's replies: when, to which message, and their first words.
SELECT at, message_id, preview FROM replies WHERE phone = $1::text ORDER BY at, event_id;

-- name: export_consent
-- The phone's consent as reports know it.
SELECT opted_out, changed_at FROM consent WHERE phone = $1::text;
