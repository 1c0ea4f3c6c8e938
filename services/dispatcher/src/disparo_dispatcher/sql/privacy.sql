-- name: cancel_pending_of_erased
-- An erased doctor's messages not yet claimed are never sent, nor resent when in doubt; those
-- in flight finish first. Each is announced failed for good (its campaign can complete).
UPDATE messages
SET state = 'cancelled', last_error_code = 'contact_erased', last_error = 'the contact was erased',
    finished_at = $2::timestamptz
WHERE (phone = $1::text OR contact_id = $3::uuid) AND state IN ('queued', 'held', 'in_doubt')
RETURNING message_id, campaign_id;

-- name: remember_erased_contact
-- The tombstone intake checks (``enqueue_messages``): contact id, the phone's keyed digest, when.
INSERT INTO erased_contacts (contact_id, phone_digest, erased_at)
VALUES ($1::uuid, phone_digest($2::text), $3::timestamptz)
ON CONFLICT (contact_id) DO NOTHING;

-- name: blank_erased_messages
-- The erased doctor's kept messages, archived or not, lose phone and text (ids, states and times
-- stay for counts). Run after ``archive.sql`` ``wait_archive_turn``: no move is under way.
WITH hot AS (
    UPDATE messages SET phone = '', body = '', template = NULL  -- a template holds filled-in names
    WHERE (phone = $1::text OR contact_id = $2::uuid) AND state <> 'sending'
)
UPDATE messages_archive SET phone = '', body = '', template = NULL
WHERE phone = $1::text OR contact_id = $2::uuid;

-- name: forget_recipient
-- The queue's memory of the phone (sticky sender, pacing, consent, its 24 h windows, its
-- place in a portfolio's tier and the providers' echoes of sends to it) goes with the doctor.
-- The echoes only settle sends in doubt, and the doctor's were cancelled just before.
WITH windows AS (
    DELETE FROM conversation_windows WHERE phone = $1::text
), tier_places AS (
    DELETE FROM portfolio_recipients WHERE phone = $1::text
), echoes AS (
    DELETE FROM provider_echoes WHERE recipient IN ($1::text, ltrim($1::text, '+'))
)
DELETE FROM recipients WHERE phone = $1::text;

-- name: blank_expired_messages
-- Sent and cancelled messages finished before $1 lose phone and text, a batch at a time.
-- Dead ones keep theirs: they may be put back in line.
UPDATE messages SET phone = '', body = '', template = NULL
WHERE message_id IN (
    SELECT message_id FROM messages
    WHERE state IN ('sent', 'cancelled') AND coalesce(finished_at, sent_at) < $1::timestamptz
      AND body <> ''
    LIMIT $2::int
);

-- name: blank_expired_archived
-- Likewise in the archive, where most of them are, by the index of those not blanked yet.
UPDATE messages_archive SET phone = '', body = '', template = NULL
WHERE message_id IN (
    SELECT message_id FROM messages_archive
    WHERE state IN ('sent', 'cancelled') AND body <> '' AND finished_at < $1::timestamptz
    LIMIT $2::int
);

-- name: forget_idle_recipients
-- Phones not written to since $1, with nothing pending and no opt-out to honour, are forgotten.
DELETE FROM recipients r
WHERE r.phone IN (
    SELECT phone FROM recipients
    WHERE opted_out_at IS NULL AND (last_sent_at IS NULL OR last_sent_at < $1::timestamptz)
      -- two probes, one per partial index by phone (waiting; being sent)
      AND NOT EXISTS (
          SELECT 1 FROM messages m
          WHERE m.phone = recipients.phone AND m.state IN ('queued', 'held')
      )
      AND NOT EXISTS (
          SELECT 1 FROM messages m WHERE m.phone = recipients.phone AND m.state = 'sending'
      )
    LIMIT $2::int
);

-- name: hold_erasure_for_sends
-- The doctor has a message being sent right now: finish the erasure when it is over.
INSERT INTO pending_erasures (phone, contact_id, erased_at)
SELECT $1::text, $2::uuid, $3::timestamptz
WHERE EXISTS (SELECT 1 FROM messages WHERE phone = $1::text AND state = 'sending')
ON CONFLICT (phone) DO NOTHING;

-- name: finish_pending_erasures
-- Erasures whose sends are over: blank those messages too, archived or not, and forget the
-- phone. Run after ``archive.sql`` ``wait_archive_turn``.
WITH done AS (
    DELETE FROM pending_erasures p
    WHERE NOT EXISTS (
        SELECT 1 FROM messages m WHERE m.phone = p.phone AND m.state = 'sending'
    )
    RETURNING phone
), blanked AS (
    UPDATE messages m SET phone = '', body = '', template = NULL FROM done d WHERE m.phone = d.phone
), blanked_archived AS (
    UPDATE messages_archive a SET phone = '', body = '', template = NULL
    FROM done d WHERE a.phone = d.phone
), windows AS (
    DELETE FROM conversation_windows w USING done d WHERE w.phone = d.phone
), tier_places AS (
    DELETE FROM portfolio_recipients t USING done d WHERE t.phone = d.phone
), echoes AS (
    DELETE FROM provider_echoes e USING done d
    WHERE e.recipient IN (d.phone, ltrim(d.phone, '+'))
)
DELETE FROM recipients r USING done d WHERE r.phone = d.phone;

-- name: export_messages
-- A doctor's messages as the queue holds them (LGPD export), oldest first.
SELECT message_id, contact_id, kind, state, body, template, priority, campaign_id,
       conversation_id, sender_id, attempt, last_error_code, last_error, requested_at,
       enqueued_at, sent_at, finished_at
FROM all_messages
WHERE phone = $1::text OR contact_id = $2::uuid
ORDER BY requested_at, message_id;

-- name: export_recipient
-- What the queue remembers about the phone: sticky sender, pacing, consent.
SELECT sender_id, last_sent_at, last_inbound_at, opted_out_at, opt_out_reason
FROM recipients WHERE phone = $1::text;

-- name: export_windows
-- When the doctor last wrote to each of our numbers (the Cloud API's 24 h windows).
SELECT sender_id, last_inbound_at FROM conversation_windows WHERE phone = $1::text
ORDER BY sender_id;
