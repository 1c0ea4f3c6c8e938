-- Saved segments and audience queries. {audience} is replaced by the compiled filter
-- (segments/filters.audience_condition): whitelisted columns and $n placeholders only.

-- name: insert_segment
-- Save a new segment.
INSERT INTO segments (name, description, filter, created_at, updated_at)
VALUES ($1::text, $2::text, $3::jsonb, $4::timestamptz, $4::timestamptz)
RETURNING id, name, description, filter, created_at, updated_at;

-- name: get_segment
-- One saved segment.
SELECT id, name, description, filter, created_at, updated_at FROM segments WHERE id = $1::uuid;

-- name: list_segments
-- A page of saved segments in creation order, after the keyset cursor (created_at, id).
SELECT id, name, description, filter, created_at, updated_at
FROM segments
WHERE ($1::timestamptz IS NULL OR (created_at, id) > ($1::timestamptz, $2::uuid))
ORDER BY created_at, id
LIMIT $3::int;

-- name: lock_segment
-- One saved segment, locked for an update.
SELECT id, name, description, filter FROM segments WHERE id = $1::uuid FOR UPDATE;

-- name: update_segment
-- Replace a saved segment's name, description and filter.
UPDATE segments
SET name = $2::text, description = $3::text, filter = $4::jsonb, updated_at = $5::timestamptz
WHERE id = $1::uuid
RETURNING id, name, description, filter, created_at, updated_at;

-- name: delete_segment
-- Forget a saved segment.
DELETE FROM segments WHERE id = $1::uuid RETURNING id;

-- name: campaigns_waiting_on_segment
-- Campaigns not yet started that would evaluate this segment when they start.
SELECT id FROM campaigns
WHERE segment_ref = $1::text AND state IN ('draft', 'scheduled')
LIMIT 5;

-- name: count_audience
-- Exact number of contacts in an audience.
SELECT count(*) FROM contacts c WHERE {audience};

-- name: count_opted_out_matches
-- Opted-out contacts the filter matches ({audience} is the opted-out condition here): what the
-- audience loses to opt-outs, counted over the small opted-out index.
SELECT count(*) FROM contacts c WHERE {audience};

-- name: sample_audience
-- A few contacts of an audience for previews (whichever the plan meets first: no sort).
SELECT c.id, c.phone, c.name, c.specialty, c.region, c.tags, c.attributes
FROM contacts c
WHERE {audience}
LIMIT $1::int;
