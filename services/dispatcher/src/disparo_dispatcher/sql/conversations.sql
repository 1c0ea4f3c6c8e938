-- Automatic messages (kind followup) and the conversations they belong to: what stops them.

-- name: record_inbound_phones
-- The phones that just replied: their latest reply, by our clock, only moves forward.
UPDATE recipients
SET last_inbound_at = greatest(last_inbound_at, $2::timestamptz)
WHERE phone = ANY($1::text[]);

-- name: cancel_automatic_for_phones
-- Cancel the pending follow-ups of these phones with reason $3; one claimed but not yet
-- confirmed for its provider call is cancelled too (its sender drops it at the confirmation).
UPDATE messages
SET state = 'cancelled', last_error_code = $3::text,
    last_error = 'not sent: the conversation moved on (' || $3::text || ')',
    finished_at = $2::timestamptz, lease_owner = NULL, lease_until = NULL
WHERE phone = ANY($1::text[]) AND kind = 'followup'
  AND (state IN ('queued', 'held') OR (state = 'sending' AND send_confirmed_at IS NULL))
RETURNING message_id, campaign_id, conversation_id, kind;

-- name: cancel_automatic_for_conversation
-- Cancel the pending follow-ups of one conversation with reason $3, as above.
UPDATE messages
SET state = 'cancelled', last_error_code = $3::text,
    last_error = 'not sent: the conversation moved on (' || $3::text || ')',
    finished_at = $2::timestamptz, lease_owner = NULL, lease_until = NULL
WHERE conversation_id = $1::uuid AND kind = 'followup'
  AND (state IN ('queued', 'held') OR (state = 'sending' AND send_confirmed_at IS NULL))
RETURNING message_id, campaign_id, conversation_id, kind;

-- name: record_conversation_control
-- Whether a conversation's automatic messages are stopped; an older fact never wins. Returns
-- the row when this fact was applied.
INSERT INTO conversation_controls AS c (conversation_id, stopped, reason, changed_at)
VALUES ($1::uuid, $2::boolean, $3::text, $4::timestamptz)
ON CONFLICT (conversation_id) DO UPDATE SET
    stopped = excluded.stopped, reason = excluded.reason, changed_at = excluded.changed_at
WHERE c.changed_at <= excluded.changed_at
RETURNING conversation_id;

-- name: confirm_automatic_send
-- The last check of a claimed follow-up before its provider call, under its row lock: NULL
-- reason means go (and marks it confirmed); otherwise the message is cancelled with the reason
-- (opted_out, replied: the phone's latest reply is newer than our latest send, taken_over,
-- closed). A reply recorded before this statement stops the send; one recorded after finds the
-- message confirmed and leaves it.
WITH claimed AS (
    SELECT m.message_id, m.phone, m.conversation_id
    FROM messages m
    WHERE m.message_id = $1::uuid AND m.attempt = $2::int AND m.state = 'sending'
    FOR UPDATE
), verdict AS (
    SELECT c.message_id,
           CASE WHEN r.opted_out_at IS NOT NULL THEN 'opted_out'
                WHEN r.last_inbound_at > coalesce(r.last_sent_at, '-infinity') THEN 'replied'
                WHEN cc.stopped THEN cc.reason
           END AS reason
    FROM claimed c
    LEFT JOIN recipients r ON r.phone = c.phone
    LEFT JOIN conversation_controls cc ON cc.conversation_id = c.conversation_id
)
UPDATE messages m
SET send_confirmed_at = CASE WHEN v.reason IS NULL THEN $3::timestamptz END,
    state = CASE WHEN v.reason IS NULL THEN m.state ELSE 'cancelled' END,
    last_error_code = coalesce(v.reason, m.last_error_code),
    last_error = CASE WHEN v.reason IS NULL THEN m.last_error
                      ELSE 'not sent: the conversation moved on (' || v.reason || ')' END,
    finished_at = CASE WHEN v.reason IS NULL THEN m.finished_at ELSE $3::timestamptz END,
    lease_owner = CASE WHEN v.reason IS NULL THEN m.lease_owner END,
    lease_until = CASE WHEN v.reason IS NULL THEN m.lease_until END
FROM verdict v
WHERE m.message_id = v.message_id
RETURNING m.message_id, m.campaign_id, m.conversation_id, m.kind, v.reason;
