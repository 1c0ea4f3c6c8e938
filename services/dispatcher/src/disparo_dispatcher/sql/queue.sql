-- The send queue's statements: enqueue, claim, settle, reclaim, control. All take `now` as a
-- parameter (the injected clock); none loops over rows.

-- name: enqueue_messages
-- Persist a batch of requested messages in one statement; a message already known by id or
-- idempotency key is skipped. Each lands on its recipient's sticky sender when that sender can
-- send, else on a weighted draw over sendable senders (recorded as the new contact's sender).
-- A message for an erased doctor (``erased_contacts``: their contact id, or for a message with
-- none, their phone when requested before the erasure) lands cancelled (``contact_erased``)
-- with neither phone nor text, and makes no recipient row.
-- Every message of one request shares its trace context ($19, packed; NULL when untraced).
-- Each message's idempotency key is taken first (``keyed``): only messages whose key was free
-- go on. A key is kept in ``message_keys`` as long as its message is kept, in ``messages`` or
-- ``messages_archive``, and the archiver never touches it: a message redelivered while (or
-- after) it is moved finds its key taken and is skipped. A concurrent intake of the same key
-- waits for the other transaction, then skips it.
WITH requested AS (
    SELECT *
    FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[],
                $7::int[], $8::uuid[], $9::uuid[], $10::int[], $11::text[],
                $12::timestamptz[], $13::timestamptz[], $18::text[])
         AS i(message_id, idempotency_key, contact_id, phone, kind, body, priority, campaign_id,
              conversation_id, max_attempts, time_zone, due_at, rank_at, template)
),
keyed AS (
    INSERT INTO message_keys (idempotency_key, message_id)
    SELECT idempotency_key, message_id FROM requested
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING message_id
),
input AS (
    SELECT r.*,
           CASE WHEN r.contact_id IS NOT NULL THEN EXISTS (
                    SELECT 1 FROM erased_contacts e WHERE e.contact_id = r.contact_id)
                ELSE EXISTS (
                    SELECT 1 FROM erased_contacts e
                    WHERE e.phone_digest = phone_digest(r.phone)
                      AND e.erased_at >= $14::timestamptz)
           END AS erased
    FROM requested r
    JOIN keyed k ON k.message_id = r.message_id
),
new_recipients AS (
    INSERT INTO recipients (phone, sender_id)
    SELECT DISTINCT phone, pick_sender(phone, $16::text[], $17::bigint[]) FROM input
    WHERE NOT erased
    ON CONFLICT (phone) DO NOTHING
    RETURNING phone, sender_id
),
placed AS (
    SELECT i.*,
           CASE WHEN i.erased OR r.opted_out_at IS NOT NULL OR c.status = 'cancelled'
                    THEN 'cancelled'
                WHEN c.status = 'paused' THEN 'held'
                ELSE 'queued' END AS state,
           CASE WHEN i.erased THEN 'contact_erased'
                WHEN r.opted_out_at IS NOT NULL THEN 'opted_out'
                WHEN c.status = 'cancelled' THEN 'campaign_cancelled' END AS error_code,
           coalesce(nr.sender_id,
                    CASE WHEN r.sender_id = ANY($16::text[]) THEN r.sender_id END,
                    pick_sender(i.phone, $16::text[], $17::bigint[])) AS sender_id
    FROM input i
    LEFT JOIN new_recipients nr ON nr.phone = i.phone
    -- Probed per message by key (LATERAL … LIMIT 1, which the planner cannot flatten): while a
    -- big campaign arrives the statistics lag, and a plain join was planned as a hash of the
    -- whole recipients table on every batch (1,000,000 recipients: the intake slowed ~10x).
    LEFT JOIN LATERAL (
        SELECT r.opted_out_at, r.sender_id FROM recipients r WHERE r.phone = i.phone LIMIT 1
    ) r ON true
    LEFT JOIN LATERAL (
        SELECT c.status FROM campaigns c WHERE c.campaign_id = i.campaign_id LIMIT 1
    ) c ON true
)
INSERT INTO messages (message_id, idempotency_key, contact_id, phone, kind, body, priority,
                      campaign_id, conversation_id, time_zone, state, due_at, rank_at,
                      max_attempts, sender_id, last_error_code, requested_at, enqueued_at,
                      finished_at, template, trace_context)
SELECT message_id, idempotency_key, contact_id,
       CASE WHEN erased THEN '' ELSE phone END, kind, CASE WHEN erased THEN '' ELSE body END,
       priority, campaign_id, conversation_id, time_zone, state, due_at, rank_at, max_attempts,
       sender_id, error_code, $14::timestamptz, $15::timestamptz,
       CASE WHEN state = 'cancelled' THEN $15::timestamptz END,
       CASE WHEN NOT erased THEN template::jsonb END, $19::bytea
FROM placed
ON CONFLICT DO NOTHING
RETURNING message_id, campaign_id, contact_id, kind, sender_id, due_at, state, last_error_code;

-- name: existing_message_ids
-- Which of these message ids are already kept, archived or not (a redelivered request, not a
-- conflict).
SELECT message_id FROM all_messages WHERE message_id = ANY($1::uuid[]);

-- name: queue_head_rank
-- The place in line of the first queued message of one priority: where a new campaign joins,
-- so it interleaves with the backlog instead of queueing behind it.
SELECT min(head.rank_at)
FROM senders s
CROSS JOIN LATERAL (
    SELECT m.rank_at
    FROM messages m
    WHERE m.sender_id = s.sender_id AND m.state = 'queued' AND m.priority = $1::smallint
    ORDER BY m.priority DESC, m.rank_at
    LIMIT 1
) head;

-- name: ensure_campaigns
-- Make sure each campaign has a control row (running, no cap) before it is referenced.
INSERT INTO campaigns (campaign_id)
SELECT * FROM unnest($1::uuid[])
ON CONFLICT (campaign_id) DO NOTHING;

-- name: reserve_campaign_ranks
-- Give each campaign's next `count` messages consecutive virtual times one `step` apart,
-- starting no earlier than `head`; returns the first virtual time of each reservation.
WITH r AS (
    SELECT * FROM unnest($1::uuid[], $2::int[], $3::timestamptz[]) AS r(campaign_id, count, head)
)
UPDATE campaigns c
SET next_rank_at = greatest(c.next_rank_at, r.head) + r.count * $4::interval,
    updated_at = now()
FROM r
WHERE c.campaign_id = r.campaign_id
RETURNING c.campaign_id, c.next_rank_at - r.count * $4::interval AS first_rank_at;

-- name: claim_due_messages
-- Lease up to `room` due messages of each given sender, most urgent first, then by place in
-- line; returns what the send-time rules need (recipient pacing and consent, campaign state).
-- Every row is reached by key, never by joining whole tables: the picked rows by the ctids their
-- locks pin (nobody else can move a row we hold FOR UPDATE), read once as an array (a TID scan),
-- recipients by a LATERAL … LIMIT 1 probe, senders and campaigns once each. Joined plainly, a
-- claim of 4,000 messages was planned as hashes of the whole messages and recipients tables
-- (175,000 rows: 450 ms a claim instead of ~30 ms).
WITH wanted AS (
    SELECT * FROM unnest($1::text[], $2::int[]) AS w(sender_id, room)
),
picked AS (
    SELECT c.row_ref
    FROM wanted w
    CROSS JOIN LATERAL (
        SELECT m.ctid AS row_ref
        FROM messages m
        WHERE m.sender_id = w.sender_id
          AND m.state = 'queued'
          AND m.due_at <= $3::timestamptz
        ORDER BY m.priority DESC, m.rank_at
        LIMIT w.room
        FOR UPDATE SKIP LOCKED
    ) c
),
claimed AS (
    UPDATE messages m
    SET state = 'sending', attempt = m.attempt + 1, lease_owner = $4::text,
        lease_until = $5::timestamptz, claimed_at = $3::timestamptz
    WHERE m.ctid = ANY (ARRAY(SELECT row_ref FROM picked))
    RETURNING m.message_id, m.phone, m.body, m.kind, m.priority, m.campaign_id, m.contact_id,
              m.conversation_id, m.sender_id, m.attempt, m.max_attempts, m.time_zone, m.rank_at,
              m.enqueued_at, m.template::text AS template, m.marketing_limit_retries,
              m.trace_context
),
-- Facts of a sender or a campaign are read once per claim, not once per claimed message: a claim
-- of 4,000 messages names ~50 senders and a few campaigns (joined by hash on the handful of rows).
sender_facts AS MATERIALIZED (
    SELECT w.sender_id, s.quality, s.portfolio, s.waba_id, s.provider = 'cloud' AS cloud
    FROM wanted w
    LEFT JOIN LATERAL (
        SELECT s.quality, coalesce(s.portfolio, s.waba_id) AS portfolio, s.waba_id, s.provider
        FROM senders s WHERE s.sender_id = w.sender_id LIMIT 1
    ) s ON true
),
campaign_facts AS MATERIALIZED (
    SELECT k.campaign_id, c.status, c.max_per_day, c.window_start_hour, c.window_end_hour,
           c.window_weekdays, c.window_zone
    FROM (SELECT DISTINCT campaign_id FROM claimed WHERE campaign_id IS NOT NULL) k
    CROSS JOIN LATERAL (
        SELECT c.status, c.max_per_day, c.window_start_hour, c.window_end_hour,
               c.window_weekdays, c.window_zone
        FROM campaigns c WHERE c.campaign_id = k.campaign_id LIMIT 1
    ) c
)
SELECT claimed.*, greatest(r.last_sent_at, o.may_have_gone_at) AS last_sent_at,
       r.campaign_day, r.campaign_sent_on_day, r.opted_out_at,
       cf.status AS campaign_status, cf.max_per_day, cf.window_start_hour, cf.window_end_hour,
       cf.window_weekdays, cf.window_zone, w.last_inbound_at, t.status AS template_status,
       sf.quality AS sender_quality, sf.portfolio
FROM claimed
LEFT JOIN sender_facts sf ON sf.sender_id = claimed.sender_id
LEFT JOIN campaign_facts cf ON cf.campaign_id = claimed.campaign_id
-- The Cloud API's window and the template's registry status, probed by key like the rest, and
-- only for Cloud numbers (an Evolution number has neither: ``cloud_rules``).
LEFT JOIN LATERAL (
    SELECT w.last_inbound_at FROM conversation_windows w
    WHERE sf.cloud AND w.sender_id = claimed.sender_id AND w.phone = claimed.phone LIMIT 1
) w ON true
LEFT JOIN LATERAL (
    SELECT t.status
    FROM templates t
    WHERE sf.cloud AND claimed.template IS NOT NULL AND t.waba_id = sf.waba_id
      AND t.name = claimed.template::jsonb ->> 'name'
      AND t.language = claimed.template::jsonb ->> 'language'
    LIMIT 1
) t ON true
LEFT JOIN LATERAL (
    SELECT r.last_sent_at, r.campaign_day, r.campaign_sent_on_day, r.opted_out_at
    FROM recipients r WHERE r.phone = claimed.phone LIMIT 1
) r ON true
-- A send to the same phone still 'sending' under another replica's lease (one that died or froze
-- mid-call) may have reached the provider at any moment up to its lease's end, and one in doubt
-- up to when its doubt began: for pair spacing it counts as sent then (at most now). This
-- replica's own sends in flight are in its memory. One probe by phone of the unsettled sends'
-- partial index (migration 280): it holds only what is in flight or in doubt, so it stays small
-- at any backlog, and its predicate is named whole so the planner cannot walk the in-flight
-- index (by sender) instead, which cost ~2,000 buffers per claimed message on a table not yet
-- analysed (`disparo bench claim --plans`).
LEFT JOIN LATERAL (
    SELECT max(CASE WHEN o.state = 'in_doubt'
                        THEN least(coalesce(o.in_doubt_since, $3::timestamptz), $3::timestamptz)
                    WHEN o.lease_owner <> $4::text
                        THEN least(o.lease_until, $3::timestamptz) END) AS may_have_gone_at
    FROM messages o
    WHERE o.phone = claimed.phone AND o.state IN ('sending', 'in_doubt')
) o ON true
ORDER BY claimed.priority DESC, claimed.rank_at;

-- name: reserve_campaign_quota
-- Take up to `wanted` of each capped campaign's remaining sends for `day`; returns the grant.
WITH w AS (
    SELECT * FROM unnest($1::uuid[], $2::int[]) AS w(campaign_id, wanted)
),
current AS (
    SELECT c.campaign_id,
           CASE WHEN c.day = $3::date THEN c.sent_on_day ELSE 0 END AS used,
           greatest(0, least(w.wanted, c.max_per_day
                             - CASE WHEN c.day = $3::date THEN c.sent_on_day ELSE 0 END)) AS granted
    FROM campaigns c
    JOIN w ON w.campaign_id = c.campaign_id
    WHERE c.max_per_day IS NOT NULL
    FOR UPDATE OF c
)
UPDATE campaigns c
SET day = $3::date, sent_on_day = current.used + current.granted
FROM current
WHERE c.campaign_id = current.campaign_id
RETURNING c.campaign_id, current.granted;

-- name: mark_sent
-- Record accepted sends, fenced by attempt: a late answer for a reclaimed attempt is ignored.
-- A traced send keeps its span's context, so the provider's statuses descend from the send.
-- A sent message is finished, so it goes straight to the archive: one DELETE here instead of an
-- UPDATE to 'sent' (never HOT: `state` is in the partial indexes' predicates, so every index of
-- the hot table would take a new entry) and the archiver's DELETE a minute later. No statement
-- changing both tables can miss it: those skip rows still 'sending' (privacy.sql holds an
-- erasure until its sends are over) and see the move whole, in one snapshot, once it commits.
-- Every column is named (a test holds the list to the table's), so the row keeps all it had.
WITH done AS (
    SELECT *
    FROM unnest($1::uuid[], $2::int[], $3::text[], $4::timestamptz[], $5::bytea[])
         AS d(message_id, attempt, provider_message_id, sent_at, trace_context)
),
finished AS (
    DELETE FROM messages m
    USING done d
    WHERE m.message_id = d.message_id AND m.attempt = d.attempt AND m.state = 'sending'
    RETURNING m.*, d.provider_message_id AS sent_provider_message_id, d.sent_at AS sent_sent_at,
              d.trace_context AS sent_trace_context
)
INSERT INTO messages_archive (
    message_id, idempotency_key, contact_id, phone, kind, body, priority, campaign_id,
    conversation_id, time_zone, state, due_at, rank_at, attempt, max_attempts, sender_id,
    lease_owner, lease_until, last_error_code, last_error, provider_message_id, requested_at,
    enqueued_at, sent_at, finished_at, claimed_at, in_doubt_since, send_confirmed_at, template,
    marketing_limit_retries, trace_context, in_doubt_held_at)
SELECT message_id, idempotency_key, contact_id, phone, kind, body, priority, campaign_id,
    conversation_id, time_zone, 'sent', due_at, rank_at, attempt, max_attempts, sender_id,
    NULL, NULL, last_error_code, last_error, sent_provider_message_id, requested_at,
    enqueued_at, sent_sent_at, sent_sent_at, claimed_at, in_doubt_since, send_confirmed_at, template,
    marketing_limit_retries, coalesce(sent_trace_context, trace_context), in_doubt_held_at
FROM finished
RETURNING message_id;

-- name: record_recipient_sends
-- Per phone: the sender that last talked to it (stickiness), when (pair spacing), and how
-- many campaign messages it got on `day`.
UPDATE recipients r
SET sender_id = s.sender_id,
    last_sent_at = greatest(r.last_sent_at, s.sent_at),
    campaign_sent_on_day = CASE WHEN r.campaign_day = $5::date THEN r.campaign_sent_on_day ELSE 0 END
                           + s.campaign_sends,
    campaign_day = $5::date
FROM (
    SELECT phone,
           (array_agg(sender_id ORDER BY sent_at DESC))[1] AS sender_id,
           max(sent_at) AS sent_at,
           sum(campaign_send)::int AS campaign_sends
    FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::int[])
         AS u(phone, sender_id, sent_at, campaign_send)
    GROUP BY phone
    ORDER BY phone
) s
WHERE r.phone = s.phone;

-- name: settle_messages
-- Put claimed messages back in line or end them (dead, cancelled, held), or hold them in doubt
-- (a timed-out call: see in_doubt.sql), fenced by attempt. `attempt_change` is -1 when the claim
-- cost no attempt (a limit wait, a pair limit, a paused sender); `rank_shift` moves a long wait
-- back in line so the claim does not walk over it.
WITH s AS (
    SELECT *
    FROM unnest($1::uuid[], $2::int[], $3::text[], $4::timestamptz[], $5::int[], $6::text[],
                $7::text[], $8::text[], $9::interval[], $11::boolean[])
         AS s(message_id, attempt, state, due_at, attempt_change, error_code, error, sender_id,
              rank_shift, marketing_put_off)
)
UPDATE messages m
SET state = s.state,
    due_at = coalesce(s.due_at, m.due_at),
    rank_at = m.rank_at + s.rank_shift,
    attempt = m.attempt + s.attempt_change,
    last_error_code = coalesce(s.error_code, m.last_error_code),
    last_error = coalesce(s.error, m.last_error),
    sender_id = coalesce(s.sender_id, m.sender_id),
    marketing_limit_retries = m.marketing_limit_retries + s.marketing_put_off::int,
    lease_owner = NULL,
    lease_until = NULL,
    finished_at = CASE WHEN s.state IN ('dead', 'cancelled') THEN $10::timestamptz END,
    in_doubt_since = CASE WHEN s.state = 'in_doubt' THEN $10::timestamptz END
FROM s
WHERE m.message_id = s.message_id AND m.attempt = s.attempt AND m.state = 'sending'
RETURNING m.message_id;

-- name: reclaim_expired_leases
-- Messages a dead replica left 'sending' on the given senders ($1). On senders whose provider
-- echoes every send ($3) they wait 'in_doubt' from the end of their lease (the provider cannot
-- have taken them later) until an echo tells whether they went out. Elsewhere their attempt
-- stays spent (the provider may have sent them): back in line when `retry` ($4) and attempts
-- remain, else dead. Messages the calling replica still holds ($5: buffered, in flight or
-- awaiting its flush) are never taken: it knows them, and taking one would send it twice.
UPDATE messages
SET state = CASE WHEN sender_id = ANY($3::text[]) THEN 'in_doubt'
                 WHEN $4::boolean AND attempt < max_attempts THEN 'queued'
                 ELSE 'dead' END,
    in_doubt_since = CASE WHEN sender_id = ANY($3::text[]) THEN lease_until END,
    lease_owner = NULL,
    lease_until = NULL,
    last_error_code = 'lease_expired',
    last_error = 'the replica sending it stopped before recording the outcome',
    due_at = $2::timestamptz,
    finished_at = CASE WHEN sender_id = ANY($3::text[])
                            OR ($4::boolean AND attempt < max_attempts) THEN NULL
                       ELSE $2::timestamptz END
WHERE sender_id = ANY($1::text[]) AND state = 'sending' AND lease_until < $2::timestamptz
  AND NOT (message_id = ANY($5::uuid[]))
RETURNING message_id, campaign_id, attempt, state;

-- name: renew_message_leases
-- Extend the leases of messages this replica still has in flight or awaiting its flush, so no
-- other replica reclaims them while their outcome is on its way (fenced by owner and state).
UPDATE messages
SET lease_until = greatest(lease_until, $3::timestamptz)
WHERE message_id = ANY($1::uuid[]) AND state = 'sending' AND lease_owner = $2::text
RETURNING message_id;

-- name: reassign_orphans
-- Move queued messages off senders that cannot send (paused, banned) or that never had one,
-- onto a weighted draw over sendable senders; bounded per call so a big move goes in slices.
UPDATE messages m
SET sender_id = pick_sender(m.phone, $1::text[], $2::bigint[])
WHERE m.message_id IN (
    SELECT message_id
    FROM messages
    WHERE state = 'queued' AND (sender_id IS NULL OR sender_id = ANY($3::text[]))
    LIMIT $4::int
    FOR UPDATE SKIP LOCKED
)
RETURNING m.message_id;

-- name: count_sent_since
-- Sends per sender since a moment (the start of today), for a replica taking senders over: the
-- few not archived yet (a sent row finished when it was sent or later), then the archived ones.
SELECT sender_id, count(*)::int AS sent
FROM (
    SELECT sender_id FROM messages
    WHERE state = 'sent' AND finished_at >= $2::timestamptz AND sent_at >= $2::timestamptz
      AND sender_id = ANY($1::text[])
    UNION ALL
    SELECT sender_id FROM messages_archive
    WHERE state = 'sent' AND sender_id = ANY($1::text[]) AND sent_at >= $2::timestamptz
) sent
GROUP BY sender_id;

-- name: set_campaign_status
-- Record a campaign's control state; cancelled is final.
INSERT INTO campaigns (campaign_id, status)
VALUES ($1::uuid, $2::text)
ON CONFLICT (campaign_id) DO UPDATE
SET status = EXCLUDED.status, updated_at = now()
WHERE campaigns.status <> 'cancelled'
RETURNING status;

-- name: refund_campaign_quota
-- Give back today's quota taken by capped-campaign messages that were handed back unsent.
UPDATE campaigns c
SET sent_on_day = greatest(0, c.sent_on_day - r.returned)
FROM unnest($1::uuid[], $2::int[]) AS r(campaign_id, returned)
WHERE c.campaign_id = r.campaign_id AND c.day = $3::date;

-- name: configure_campaign
-- A started campaign's daily cap and send window (campaign.started), kept with its controls.
INSERT INTO campaigns AS c (campaign_id, max_per_day, window_start_hour, window_end_hour,
                            window_weekdays, window_zone)
VALUES ($1::uuid, $2::int, $3::smallint, $4::smallint, $5::smallint[], $6::text)
ON CONFLICT (campaign_id) DO UPDATE SET
    max_per_day = excluded.max_per_day,
    window_start_hour = excluded.window_start_hour,
    window_end_hour = excluded.window_end_hour,
    window_weekdays = excluded.window_weekdays,
    window_zone = excluded.window_zone,
    updated_at = now();

-- name: set_campaign_max_per_day
-- Set (or clear with NULL) a campaign's daily cap.
INSERT INTO campaigns (campaign_id, max_per_day)
VALUES ($1::uuid, $2::int)
ON CONFLICT (campaign_id) DO UPDATE SET max_per_day = EXCLUDED.max_per_day, updated_at = now()
RETURNING campaign_id, status, max_per_day, day, sent_on_day;

-- name: get_campaign
-- A campaign's control row.
SELECT campaign_id, status, max_per_day, day, sent_on_day FROM campaigns WHERE campaign_id = $1::uuid;

-- name: hold_campaign
-- A paused campaign's queued messages wait in 'held'.
UPDATE messages SET state = 'held'
WHERE campaign_id = $1::uuid AND state = 'queued';

-- name: release_campaign
-- A resumed campaign's held messages are back in line.
UPDATE messages SET state = 'queued'
WHERE campaign_id = $1::uuid AND state = 'held';

-- name: cancel_campaign_messages
-- A cancelled campaign's pending messages end; those already being sent finish normally.
UPDATE messages
SET state = 'cancelled', last_error_code = 'campaign_cancelled',
    last_error = 'the campaign was cancelled', finished_at = $2::timestamptz
WHERE campaign_id = $1::uuid AND state IN ('queued', 'held');

-- name: record_opt_out
-- Remember that a phone opted out (the first reason and time are kept). Not when the doctor was
-- erased since ($4 their contact id, $5 when the opt-out was said): the opt-out reached us
-- after the erasure, and would bring the erased phone back.
INSERT INTO recipients (phone, opted_out_at, opt_out_reason)
SELECT $1::text, $2::timestamptz, $3::text
WHERE NOT EXISTS (
    SELECT 1 FROM erased_contacts e
    WHERE e.contact_id = $4::uuid
       OR (e.phone_digest = phone_digest($1::text)
           AND e.erased_at >= $5::timestamptz)
)
ON CONFLICT (phone) DO UPDATE
SET opted_out_at = coalesce(recipients.opted_out_at, EXCLUDED.opted_out_at),
    opt_out_reason = coalesce(recipients.opt_out_reason, EXCLUDED.opt_out_reason);

-- name: record_opt_outs
-- Remember several opted-out phones at once (provider opt-outs found in one flush).
INSERT INTO recipients (phone, opted_out_at, opt_out_reason)
SELECT phone, $2::timestamptz, $3::text FROM unnest($1::text[]) AS phone
ON CONFLICT (phone) DO UPDATE
SET opted_out_at = coalesce(recipients.opted_out_at, EXCLUDED.opted_out_at),
    opt_out_reason = coalesce(recipients.opt_out_reason, EXCLUDED.opt_out_reason);

-- name: cancel_pending_for_phones
-- Drop the pending messages of opted-out phones; those being sent are checked again at send.
UPDATE messages
SET state = 'cancelled', last_error_code = 'opted_out', last_error = 'the contact opted out',
    finished_at = $2::timestamptz
WHERE phone = ANY($1::text[]) AND state IN ('queued', 'held')
RETURNING message_id;

-- name: record_opt_in
-- A phone that opted back in may be written to again.
UPDATE recipients SET opted_out_at = NULL, opt_out_reason = NULL WHERE phone = $1::text;

-- name: is_opted_out
-- Whether a phone is opted out.
SELECT opted_out_at IS NOT NULL FROM recipients WHERE phone = $1::text;

-- name: restore_dead_message
-- An archived dead message comes back to the hot table, still dead, to be re-queued (below).
-- Run after ``archive.sql`` ``wait_archive_turn``: no move is under way.
WITH restored AS (
    DELETE FROM messages_archive
    WHERE message_id = $1::uuid AND state = 'dead' AND phone <> ''  -- not an erased doctor's
    RETURNING *
)
INSERT INTO messages SELECT * FROM restored;

-- name: restore_dead_for_campaign
-- A campaign's archived dead messages come back to the hot table, still dead, likewise.
WITH restored AS (
    DELETE FROM messages_archive
    WHERE campaign_id = $1::uuid AND state = 'dead' AND phone <> ''  -- erased doctors stay
    RETURNING *
)
INSERT INTO messages SELECT * FROM restored;

-- name: requeue_dead_message
-- A dead message back in line with `extra_attempts` more tries; its attempt count keeps
-- growing so fencing stays sound.
UPDATE messages
SET state = 'queued', due_at = $2::timestamptz, rank_at = $2::timestamptz,
    max_attempts = attempt + $3::int, finished_at = NULL
WHERE message_id = $1::uuid AND state = 'dead' AND phone <> ''  -- not an erased doctor's
RETURNING message_id, campaign_id, kind, sender_id, due_at;

-- name: requeue_dead_for_campaign
-- Every dead message of a campaign back in line ("resend to the failed only").
UPDATE messages
SET state = 'queued', due_at = $2::timestamptz, rank_at = $2::timestamptz,
    max_attempts = attempt + $3::int, finished_at = NULL
WHERE campaign_id = $1::uuid AND state = 'dead' AND phone <> ''  -- erased doctors stay
RETURNING message_id, campaign_id, kind, sender_id, due_at;

-- name: get_message
-- One message as the admin API shows it.
SELECT message_id, idempotency_key, contact_id, phone, kind, priority, campaign_id,
       conversation_id, state, due_at, attempt, max_attempts, sender_id, last_error_code,
       last_error, provider_message_id, enqueued_at, sent_at, finished_at
FROM all_messages WHERE message_id = $1::uuid;

-- name: queue_reading
-- Pending messages by state and priority, for the gauges and the stats endpoint; doubts held
-- for a person count apart, as 'in_doubt_held'. In the same scan, per group, seconds since the
-- oldest queued message fell due (a message waiting for a limit has its due time moved, so only
-- messages that could go and did not count; one waiting for a number — none can send, or its
-- number is paused — counts: it is not going out; one its number had claimed and handed back
-- keeps the time it fell due). One pass over the backlog: two took a third longer.
SELECT CASE WHEN in_doubt_held_at IS NOT NULL THEN 'in_doubt_held' ELSE state END AS state,
       priority, count(*)::bigint AS messages,
       extract(epoch FROM $1::timestamptz - min(due_at) FILTER (
           WHERE state = 'queued' AND due_at <= $1::timestamptz
       ))::float8 AS oldest_due_age_seconds
FROM messages
WHERE state IN ('queued', 'sending', 'in_doubt', 'held')
GROUP BY 1, priority
UNION ALL
SELECT 'dead', priority, count(*)::bigint, NULL
FROM all_messages WHERE state = 'dead' GROUP BY priority;

-- name: dead_by_code
-- Dead messages by their last error code (a bounded set: provider codes and a few of ours).
SELECT coalesce(last_error_code, 'unknown') AS code, count(*)::bigint AS messages
FROM all_messages WHERE state = 'dead'
GROUP BY 1;

-- name: sender_states
-- Each configured sender, whether it can send, and its configured rate.
SELECT sender_id, status, rate_per_second FROM senders;

-- name: cloud_number_ratings
-- Each Cloud number's quality and its portfolio's tier with the tier's unique-recipient limit
-- (NULL: unlimited; $1 when Meta has not named the tier). No counts: the gauges' periodic read.
SELECT s.sender_id, s.quality, coalesce(pf.tier, $1::text) AS tier, t.unique_recipients AS tier_limit
FROM senders s
LEFT JOIN portfolios pf ON pf.portfolio = coalesce(s.portfolio, s.waba_id)
LEFT JOIN messaging_tiers t ON t.tier = coalesce(pf.tier, $1::text)
WHERE s.provider = 'cloud';

-- name: messages_by_ids
-- Some messages' text and state (a page of a doctor's timeline in the console); no phone.
SELECT message_id, kind, state, body, sent_at, finished_at, last_error_code, sender_id
FROM all_messages WHERE message_id = ANY($1::uuid[]);
