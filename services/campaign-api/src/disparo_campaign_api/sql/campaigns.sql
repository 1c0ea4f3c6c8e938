-- Campaigns, their audience snapshot and fan-out. {audience} in snapshot_audience is replaced by
-- the compiled filter (segment_filters.audience_condition): whitelisted columns and $n only.

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
-- The audience of a start, in one statement: each contact once, numbered 1..n by id.
INSERT INTO campaign_recipients (campaign_id, seq, contact_id)
SELECT $1::uuid, row_number() OVER (ORDER BY c.id), c.id
FROM contacts c
WHERE {audience}
ON CONFLICT DO NOTHING;

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

-- name: fanout_chunk
-- The next recipients after the cursor, with what their message needs (contact may be gone).
SELECT r.seq, r.contact_id, r.message_id, c.phone, c.name, c.specialty, c.region,
       c.attributes, c.opted_out_at
FROM campaign_recipients r
LEFT JOIN contacts c ON c.id = r.contact_id
WHERE r.campaign_id = $1::uuid AND r.seq > $2::bigint
ORDER BY r.seq
LIMIT $3::int;

-- name: skip_recipients
-- Recipients who will get no message (opted out or deleted since the start).
UPDATE campaign_recipients SET status = 'skipped', finished_at = $3::timestamptz
WHERE campaign_id = $1::uuid AND seq = ANY($2::bigint[]) AND status = 'pending';

-- name: advance_fanout
-- Move the cursor past a requested chunk; fan-out is done when it reaches the audience size.
UPDATE campaigns
SET fanout_cursor = $2::bigint,
    fanout_done_at = CASE WHEN $2::bigint >= audience_size THEN $3::timestamptz END,
    updated_at = $3::timestamptz
WHERE id = $1::uuid;

-- name: recipients_for_preview
-- The first recipients of a started campaign, with their current contact data.
SELECT c.id, c.phone, c.name, c.specialty, c.region, c.attributes
FROM campaign_recipients r
JOIN contacts c ON c.id = r.contact_id
WHERE r.campaign_id = $1::uuid
ORDER BY r.seq
LIMIT $2::int;

-- name: record_outcome
-- A campaign message reached a final state (sent, or failed for good); once only.
UPDATE campaign_recipients SET status = $2::text, finished_at = $3::timestamptz
WHERE message_id = $1::uuid AND status = 'pending'
RETURNING campaign_id;

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
