-- Campaigns, their audience snapshot and fan-out. {audience} in snapshot_audience is replaced by
-- the compiled filter (segments/filters.audience_condition): whitelisted columns and $n only.

-- name: insert_campaign
-- A new campaign in draft.
INSERT INTO campaigns (name, kind, template, segment_ref, filter, priority, max_per_day,
                       window_start_hour, window_end_hour, window_days, not_before,
                       created_at, updated_at)
VALUES ($1::text, $2::text, $3::text, $4::text, $5::jsonb, $6::int, $7::int,
        $8::int, $9::int, $10::int[], $11::timestamptz, $12::timestamptz, $12::timestamptz)
RETURNING *;

-- name: get_campaign
-- One campaign.
SELECT * FROM campaigns WHERE id = $1::uuid;

-- name: lock_campaign
-- One campaign, locked until the caller's transaction ends: every state change goes through it.
SELECT * FROM campaigns WHERE id = $1::uuid FOR UPDATE;

-- name: list_campaigns
-- A page of campaigns in creation order after the keyset cursor, optionally in one state.
SELECT * FROM campaigns
WHERE ($1::timestamptz IS NULL OR (created_at, id) > ($1::timestamptz, $2::uuid))
  AND ($3::text IS NULL OR state = $3::text)
ORDER BY created_at, id
LIMIT $4::int;

-- name: update_draft
-- Replace every editable field of a draft.
UPDATE campaigns
SET name = $2::text, kind = $3::text, template = $4::text, segment_ref = $5::text,
    filter = $6::jsonb, priority = $7::int, max_per_day = $8::int, window_start_hour = $9::int,
    window_end_hour = $10::int, window_days = $11::int[], not_before = $12::timestamptz,
    updated_at = $13::timestamptz
WHERE id = $1::uuid
RETURNING *;

-- name: set_scheduled
-- Schedule (or reschedule) a campaign.
UPDATE campaigns SET state = 'scheduled', scheduled_for = $2::timestamptz, updated_at = $3::timestamptz
WHERE id = $1::uuid
RETURNING *;

-- name: snapshot_audience
-- The audience of a start, in one statement: each contact once, numbered 1..n in scan order.
-- No ON CONFLICT: a start holds the campaign's row lock and snapshots only a campaign not yet
-- started, so a conflict would be a bug, to fail loudly rather than leave a gap in seq; the
-- speculative insertion it needed cost a quarter of the statement (migration 014).
INSERT INTO campaign_recipients (campaign_id, seq, contact_id)
SELECT $1::uuid, row_number() OVER (), c.id
FROM contacts c
WHERE {audience};

-- name: set_started
-- Running, with the audience size, the evaluated filter and when the first messages are due.
UPDATE campaigns
SET state = 'running', started_at = $2::timestamptz, audience_size = $3::int,
    audience_filter = $4::jsonb, first_due_at = $5::timestamptz,
    fanout_done_at = CASE WHEN $3::int = 0 THEN $2::timestamptz END, updated_at = $2::timestamptz
WHERE id = $1::uuid
RETURNING *;

-- name: set_paused
-- Paused: fan-out stops; the dispatcher holds what it already has.
UPDATE campaigns SET state = 'paused', paused_at = $2::timestamptz, updated_at = $2::timestamptz
WHERE id = $1::uuid
RETURNING *;

-- name: set_resumed
-- Running again: fan-out continues from its cursor.
UPDATE campaigns SET state = 'running', updated_at = $2::timestamptz
WHERE id = $1::uuid
RETURNING *;

-- name: set_cancelled
-- Cancelled for good.
UPDATE campaigns SET state = 'cancelled', cancelled_at = $2::timestamptz, updated_at = $2::timestamptz
WHERE id = $1::uuid
RETURNING *;

-- name: claim_due_campaign
-- One scheduled campaign whose time has come (not among $2, those that failed this round),
-- locked; replicas skip each other's.
SELECT * FROM campaigns
WHERE state = 'scheduled' AND scheduled_for <= $1::timestamptz AND NOT (id = ANY($2::uuid[]))
ORDER BY scheduled_for
LIMIT 1
FOR UPDATE SKIP LOCKED;

-- name: claim_fanout_campaign
-- One running campaign with recipients not yet requested, locked; replicas skip each other's.
SELECT * FROM campaigns
WHERE state = 'running' AND fanout_done_at IS NULL
ORDER BY priority DESC, started_at
LIMIT 1
FOR UPDATE SKIP LOCKED;

-- name: request_chunk
-- One fan-out chunk in one statement: the recipients with seq in ($2, $2 + $3] (seq is dense,
-- so this range is exactly the chunk), each rendered with {body} (campaigns/templates.render_sql)
-- and, with a Cloud template, {template_values}/{template} (campaigns/cloud_templates), become
-- messages.requested events in the outbox — at most $14 messages and about $15 bytes each;
-- recipients who opted out, were deleted or whose message would be blank are marked skipped.
-- Message ids are campaigns/message_ids.campaign_message_id: the first 96 bits $10 (as the
-- canonical text's first 28 characters), then seq in 8 hex digits.
-- not_before is $7[day of seq − $9], day = (seq − 1) / $8 (or $7[1] when $8 = 0: no daily cap).
-- One statement is one snapshot, so a contact opting out meanwhile is either sent or skipped.
-- Each message opens (or joins) the doctor's conversation for the campaign
-- (campaign_conversation_id) and carries the doctor's name for later follow-ups, with their
-- specialty and region for reports.
WITH rendered AS (
    SELECT row_ref, seq, contact_id, phone, name, specialty, region, body,
           body IS NULL OR btrim(body, E' \t\n\r\f\v') = '' AS blank, template_values
    FROM (
        SELECT r.ctid AS row_ref, r.seq, r.contact_id, c.phone, c.name, c.specialty, c.region,
               CASE WHEN c.id IS NOT NULL AND c.opted_out_at IS NULL THEN {body} END AS body,
               -- the Cloud template's filled parameters (cloud_templates.template_sql), NULL
               -- for a campaign without one; an element is NULL for a field the doctor lacks
               {template_values} AS template_values
        FROM campaign_recipients r
        LEFT JOIN contacts c ON c.id = r.contact_id
        WHERE r.campaign_id = $1::uuid AND r.seq > $2::bigint AND r.seq <= $2::bigint + $3::int
        OFFSET 0  -- kept apart, so blank reads body instead of rendering it a second time
    ) AS joined
), skipped AS (
    -- The blank rows by their ctid (read once, as one array), and nothing else an index could
    -- serve, so the plan is a TID scan whatever the statistics say. "seq IN (SELECT …)" was
    -- planned as a nested loop rescanning the chunk for every recipient (3,000 recipients:
    -- 5.6 s instead of 3 ms). "campaign_id = $1 AND status = 'pending'" let stale statistics
    -- (a previous campaign's recipients all sent) choose the pending index, which read the
    -- campaign's whole pending audience for every chunk (1,000,000: 420 ms a chunk); hence no
    -- campaign_id (the ctids are this campaign's rows, read by this statement) and "not final"
    -- spelled as NOT IN, which that index's predicate does not match.
    UPDATE campaign_recipients
    SET status = 'skipped', finished_at = $11::timestamptz
    WHERE ctid = ANY (ARRAY(SELECT row_ref FROM rendered WHERE blank))
      AND status NOT IN ('sent', 'failed', 'skipped')
    RETURNING seq
), constants AS (
    -- each window day's not_before as JSON, rendered once per chunk, not once per message
    SELECT array_agg(to_json(day)::text ORDER BY i) AS not_before
    FROM unnest($7::timestamptz[]) WITH ORDINALITY AS days (day, i)
), messages AS (
    -- Each message is JSON text put together here: json_build_object looked up the type and
    -- output function of each of its 30 arguments for every message (~5 µs a message, a
    -- quarter of the chunk); to_json quotes the doctor's text, the rest cannot need escaping
    -- (a NULL becomes null, which the dispatcher refuses loudly, never a message dropped).
    -- The object is the RequestedMessage of disparo_shared.events.
    SELECT seq,
           '{"message_id":"' || $10::text || lpad(to_hex(seq), 8, '0')
           || '","idempotency_key":"campaign:' || $1::uuid::text || ':' || contact_id::text
           || '","contact_id":"' || contact_id::text
           || '","phone":' || coalesce(to_json(phone)::text, 'null')
           || ',"kind":' || to_json($4::text)::text
           || ',"body":' || coalesce(to_json(body)::text, 'null')
           || ',"priority":' || $5::int::text
           || ',"not_before":' || constants.not_before[
                  CASE WHEN $8::int > 0 THEN ((seq - 1) / $8::int - $9::int + 1)::int ELSE 1 END]
           || ',"campaign_id":"' || $1::uuid::text
           || '","conversation_id":"' || campaign_conversation_id($1::uuid, contact_id)::text
           || '","max_attempts":' || $6::int::text
           || ',"contact_name":' || coalesce(to_json(name)::text, 'null')
           -- the rest of the doctor as targeted, so reports need not read this schema
           || ',"recipient":{"specialty":' || coalesce(to_json(specialty)::text, 'null')
           || ',"region":' || coalesce(to_json(region)::text, 'null')
           -- the template only when every parameter has a value (Meta refuses an empty one)
           || '},"template":' || coalesce((CASE WHEN array_position(template_values, NULL) IS NULL
                                               THEN {template} END)::text, 'null')
           || '}' AS message,
           template_values IS NOT NULL AND array_position(template_values, NULL) IS NOT NULL
               AS without_template,
           row_number() OVER (ORDER BY seq) AS n,
           sum(octet_length(body) + octet_length(concat(name, specialty, region)) + 500
               + coalesce(octet_length(array_to_string(template_values, '')) + 200, 0))
               OVER (ORDER BY seq) AS bytes
    FROM rendered, constants
    WHERE NOT blank
), batches AS (
    SELECT gen_random_uuid() AS event_id, min(seq) AS first_seq, count(*) AS size,
           string_agg(message, ',' ORDER BY seq) AS messages
    FROM messages
    GROUP BY (n - 1) / $14::int, (bytes - 1) / $15::int
), inserted AS (
    -- json, not jsonb, which takes twice as long (kernel migration 002); the cast checks the
    -- text once per event
    INSERT INTO outbox (event_id, subject, payload, headers)
    SELECT event_id, $13::text,
           ('{"event_id":"' || event_id::text || '","occurred_at":'
            || to_json($11::timestamptz)::text || ',"schema_version":1,"messages":['
            || messages || ']}')::json,
           $12::jsonb
    FROM batches
    ORDER BY first_seq
    RETURNING event_id
)
SELECT (SELECT max(seq) FROM rendered) AS last_seq,
       (SELECT coalesce(sum(size), 0) FROM batches)::int AS requested,
       (SELECT count(*) FROM inserted)::int AS events,
       (SELECT count(*) FROM skipped)::int AS skipped,
       (SELECT count(*) FROM messages WHERE without_template)::int AS without_template;

-- name: notify_fanout
-- Wake the fan-out workers: a campaign started or resumed.
SELECT pg_notify($1::text, $2::text);

-- name: notify_outbox
-- Wake the outbox relay (as disparo_shared.outbox.add_events does).
SELECT pg_notify($1::text, current_schema());

-- name: advance_fanout
-- Move the cursor past a requested chunk; fan-out is done when it reaches the audience size.
UPDATE campaigns
SET fanout_cursor = $2::bigint,
    fanout_done_at = CASE WHEN $2::bigint >= audience_size THEN $3::timestamptz END,
    updated_at = $3::timestamptz
WHERE id = $1::uuid;

-- name: render_for_recipients
-- The message ({body}, templates.render_sql) for the first recipients of a started campaign,
-- and its Cloud template's parameters ({template_values}, cloud_templates.template_sql).
SELECT c.id, c.phone, {body} AS body, {template_values} AS template_values
FROM campaign_recipients r
JOIN contacts c ON c.id = r.contact_id
WHERE r.campaign_id = $1::uuid AND r.seq <= $2::int
ORDER BY r.seq;

-- name: render_for_audience
-- The message ({body}) and Cloud template parameters ({template_values}) for a few contacts of
-- an audience ({audience}) not yet snapshotted.
SELECT c.id, c.phone, {body} AS body, {template_values} AS template_values
FROM contacts c
WHERE {audience}
LIMIT $1::int;

-- name: record_outcome
-- A campaign message reached a final state (sent, or failed for good); once only. "Not final"
-- is spelled NOT IN so that only the primary key can serve it: with status = 'pending', stale
-- statistics chose the pending index and read the campaign's whole pending audience for one
-- outcome (1,000,000 recipients: 112 ms instead of 0.05 ms).
UPDATE campaign_recipients SET status = $3::text, finished_at = $4::timestamptz
WHERE campaign_id = $1::uuid AND seq = $2::bigint AND status NOT IN ('sent', 'failed', 'skipped')
RETURNING campaign_id;

-- name: record_outcomes
-- Many campaign messages reached the same final state (a batch of message.sent), each once: the
-- rule of record_outcome over arrays of campaign and seq (a pair named twice is one row, as IN
-- reads the pairs as a set). The campaigns where any row changed, in id order.
WITH changed AS (
    UPDATE campaign_recipients SET status = $3::text, finished_at = $4::timestamptz
    WHERE (campaign_id, seq) IN (SELECT * FROM unnest($1::uuid[], $2::bigint[]))
      AND status NOT IN ('sent', 'failed', 'skipped')
    RETURNING campaign_id
)
SELECT DISTINCT campaign_id FROM changed ORDER BY campaign_id;

-- name: complete_if_finished
-- Completed when fan-out is done and no recipient is pending; the state check makes it once.
UPDATE campaigns
SET state = 'completed', completed_at = $2::timestamptz, updated_at = $2::timestamptz
WHERE id = $1::uuid AND state = 'running' AND fanout_done_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM campaign_recipients r
                  WHERE r.campaign_id = $1::uuid AND r.status = 'pending')
RETURNING id;

-- name: campaigns_awaiting_completion
-- Running campaigns whose fan-out is done: candidates for the completion sweep.
SELECT id FROM campaigns
WHERE state = 'running' AND fanout_done_at IS NOT NULL
ORDER BY started_at
LIMIT $1::int;

-- name: set_followup_plan
-- A draft's follow-up plan (NULL: the default rules).
UPDATE campaigns SET followups = $2::jsonb WHERE id = $1::uuid
RETURNING *;

-- name: set_cloud_template
-- Name (or, with NULL, drop) the Cloud API template of a draft, checked against the registry.
UPDATE campaigns SET cloud_template = $2::jsonb, updated_at = $3::timestamptz
WHERE id = $1::uuid
RETURNING *;

-- name: count_without_template
-- Recipients of a chunk whose message went without the Cloud template (a field without value).
UPDATE campaigns SET without_template = without_template + $2::bigint
WHERE id = $1::uuid;
