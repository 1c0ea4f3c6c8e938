-- name: upsert_contact
-- Create or update one contact by phone; absent fields (NULL) keep their stored value,
-- attributes merge (new keys win); created tells an insert from an update.
INSERT INTO contacts (phone, name, specialty, region, tags, status, time_zone, attributes)
VALUES ($1::text, $2::text, $3::text, $4::text, COALESCE($5::text[], '{}'),
        COALESCE($6::text, 'active'), COALESCE($7::text, 'America/Sao_Paulo'),
        COALESCE($8::jsonb, '{}'))
ON CONFLICT (phone) DO UPDATE SET
    name = COALESCE($2::text, contacts.name),
    specialty = COALESCE($3::text, contacts.specialty),
    region = COALESCE($4::text, contacts.region),
    tags = COALESCE($5::text[], contacts.tags),
    status = COALESCE($6::text, contacts.status),
    time_zone = COALESCE($7::text, contacts.time_zone),
    attributes = contacts.attributes || COALESCE($8::jsonb, '{}'),
    updated_at = now()
RETURNING id, phone, name, specialty, region, tags, status, time_zone, attributes, interactions, last_contact_at, last_inbound_at, last_outbound_at, created_at, updated_at, opted_out_at, opt_out_reason, (xmax = 0) AS created;

-- name: get_contact
-- One contact by id.
SELECT id, phone, name, specialty, region, tags, status, time_zone, attributes, interactions, last_contact_at, last_inbound_at, last_outbound_at, created_at, updated_at, opted_out_at, opt_out_reason FROM contacts WHERE id = $1::uuid;

-- name: update_contact
-- PATCH: each field changes only when its flag is set; attributes get a JSON merge patch
-- ($13 merged in, the keys $14 removed).
UPDATE contacts SET
    name = CASE WHEN $2::bool THEN $3::text ELSE name END,
    specialty = CASE WHEN $4::bool THEN $5::text ELSE specialty END,
    region = CASE WHEN $6::bool THEN $7::text ELSE region END,
    tags = CASE WHEN $8::bool THEN $9::text[] ELSE tags END,
    status = COALESCE($10::text, status),
    time_zone = COALESCE($11::text, time_zone),
    attributes = CASE WHEN $12::bool THEN (attributes || $13::jsonb) - $14::text[] ELSE attributes END,
    updated_at = now()
WHERE id = $1::uuid
RETURNING id, phone, name, specialty, region, tags, status, time_zone, attributes, interactions, last_contact_at, last_inbound_at, last_outbound_at, created_at, updated_at, opted_out_at, opt_out_reason;

-- name: list_contacts
-- A page of contacts matching the filters (NULL = no filter), in id order (the primary key,
-- so no index of its own slows the import), after the cursor's id; tags must all be present;
-- $8 is an ILIKE pattern on the name, accents ignored on both sides (the trigram index over
-- search_unaccented(name)), $9 an exact E.164 phone, $10 a LIKE prefix of the reversed phone
-- (the phone's last digits, read backwards: "4321" → '1234%').
SELECT id, phone, name, specialty, region, tags, status, time_zone, attributes, interactions, last_contact_at, last_inbound_at, last_outbound_at, created_at, updated_at, opted_out_at, opt_out_reason
FROM contacts
WHERE ($1::text IS NULL OR specialty = $1::text)
  AND ($2::text IS NULL OR region = $2::text)
  AND ($3::text IS NULL OR status = $3::text)
  AND ($4::text[] IS NULL OR tags @> $4::text[])
  AND ($5::bool IS NULL OR (opted_out_at IS NOT NULL) = $5::bool)
  AND ($6::uuid IS NULL OR id > $6::uuid)
  AND ($8::text IS NULL OR search_unaccented(name) ILIKE search_unaccented($8::text))
  AND ($9::text IS NULL OR phone = $9::text)
  AND ($10::text IS NULL OR reverse(phone) LIKE $10::text)
ORDER BY id
LIMIT $7::int;

-- name: mark_opted_out
-- Opt a contact out unless it already is (then no row: the first opt-out's when/why stay).
UPDATE contacts SET opted_out_at = $2::timestamptz, opt_out_reason = $3::text, updated_at = now()
WHERE id = $1::uuid AND opted_out_at IS NULL
RETURNING id, phone, name, specialty, region, tags, status, time_zone, attributes, interactions, last_contact_at, last_inbound_at, last_outbound_at, created_at, updated_at, opted_out_at, opt_out_reason;

-- name: mark_phones_opted_out
-- Opt out every contact of the phones $1 not out yet (the import's "optout" rows), one statement.
UPDATE contacts SET opted_out_at = $2::timestamptz, opt_out_reason = $3::text, updated_at = now()
WHERE phone = ANY($1::text[]) AND opted_out_at IS NULL
RETURNING id, phone;

-- name: mark_opted_in
-- Opt a contact back in if it was out (else no row).
UPDATE contacts SET opted_out_at = NULL, opt_out_reason = NULL, updated_at = now()
WHERE id = $1::uuid AND opted_out_at IS NOT NULL
RETURNING id, phone, name, specialty, region, tags, status, time_zone, attributes, interactions, last_contact_at, last_inbound_at, last_outbound_at, created_at, updated_at, opted_out_at, opt_out_reason;

-- name: record_consent_change
-- Append to the LGPD history of opt-outs and opt-ins.
INSERT INTO opt_outs (contact_id, phone, action, reason, source, source_ref, event_id, occurred_at)
VALUES ($1::uuid, $2::text, $3::text, $4::text, $5::text, $6::text, $7::uuid, $8::timestamptz);

-- name: record_consent_changes
-- Append several rows of the same change (arrays of contact, phone and event id) at once.
INSERT INTO opt_outs (contact_id, phone, action, reason, source, source_ref, event_id, occurred_at)
SELECT c.contact_id, c.phone, $3::text, $4::text, $5::text, NULL, c.event_id, $7::timestamptz
FROM unnest($1::uuid[], $2::text[], $6::uuid[]) AS c(contact_id, phone, event_id);

-- name: consent_event_recorded
-- Whether the history already holds this event (published here, or applied before).
SELECT EXISTS (SELECT 1 FROM opt_outs WHERE event_id = $1::uuid);

-- name: opted_in_since
-- Whether the contact with this phone opted in after the instant $2.
SELECT EXISTS (
    SELECT 1 FROM opt_outs
    WHERE phone = $1::text AND action = 'opted_in' AND occurred_at > $2::timestamptz
);

-- name: find_or_create_contact
-- The contact with this phone, created (with defaults) when unknown.
-- (DO UPDATE rather than DO NOTHING: it returns the id of a row another writer just committed.)
INSERT INTO contacts (phone) VALUES ($1::text)
ON CONFLICT (phone) DO UPDATE SET phone = EXCLUDED.phone
RETURNING id;

-- name: list_consent_changes
-- A contact's opt-out/opt-in history, oldest first.
SELECT action, reason, source, source_ref, event_id, occurred_at
FROM opt_outs WHERE contact_id = $1::uuid ORDER BY occurred_at, id;

-- name: touch_contact
-- An inbound reply from a known phone: one more interaction, last inbound and last contact move
-- forward (never back: a late event leaves a newer instant in place).
UPDATE contacts SET interactions = interactions + 1,
    last_inbound_at = GREATEST(last_inbound_at, $2::timestamptz),
    last_contact_at = GREATEST(last_contact_at, $2::timestamptz), updated_at = now()
WHERE phone = $1::text
RETURNING id;

-- name: touch_or_create_contact
-- Like touch_contact, creating a minimal contact for an unknown phone (so an opt-out is kept).
INSERT INTO contacts (phone, interactions, last_inbound_at, last_contact_at)
VALUES ($1::text, 1, $2::timestamptz, $2::timestamptz)
ON CONFLICT (phone) DO UPDATE SET interactions = contacts.interactions + 1,
    last_inbound_at = GREATEST(contacts.last_inbound_at, EXCLUDED.last_inbound_at),
    last_contact_at = GREATEST(contacts.last_contact_at, EXCLUDED.last_contact_at),
    updated_at = now()
RETURNING id;

-- name: record_outbound_messages
-- Messages of ours reached the provider ($1 contacts, $2 their sent_at; a contact may come
-- several times): each contact's last outbound and last contact move forward to its latest send
-- of the batch, as applying the sends one by one in any order would. The condition makes a
-- redelivered or late event write nothing. Rows are locked in phone order, as the bulk import
-- locks them, so a batch and an import (or two batches) naming the same doctors never deadlock.
WITH latest AS (
    SELECT contact_id, max(sent_at) AS sent_at
    FROM unnest($1::uuid[], $2::timestamptz[]) AS m (contact_id, sent_at)
    GROUP BY contact_id
),
behind AS (
    SELECT c.id, l.sent_at
    FROM contacts AS c JOIN latest AS l ON l.contact_id = c.id
    WHERE c.last_outbound_at IS NULL OR c.last_outbound_at < l.sent_at
    ORDER BY c.phone
    FOR UPDATE OF c
)
UPDATE contacts AS c SET last_outbound_at = b.sent_at,
    last_contact_at = GREATEST(c.last_contact_at, b.sent_at)
FROM behind AS b
WHERE c.id = b.id;

-- name: upsert_contacts_batch
-- The bulk import's one statement per batch (phones unique within the batch). One probe of the
-- phone index tells known phones from new ones; new phones are inserted by a plain INSERT
-- ({on_conflict} is empty: a phone another writer commits meanwhile fails it with
-- unique_violation, and the batch is written again with {on_conflict} = ON CONFLICT (phone) DO
-- NOTHING, slower per row by its speculative insertion); known ones are updated only where a field
-- is given and differs: NULL keeps, attributes merge, opt-out is never touched. Each column
-- travels as one text, every value preceded by U+001E and U+001D standing for NULL ([2:] drops
-- the empty text before the first mark); a row's tags are one value joined by U+001F.
WITH input AS (
    SELECT t.*, c.phone IS NOT NULL AS known
    FROM unnest((string_to_array($1::text, E'\x1e', E'\x1d'))[2:],
                (string_to_array($2::text, E'\x1e', E'\x1d'))[2:],
                (string_to_array($3::text, E'\x1e', E'\x1d'))[2:],
                (string_to_array($4::text, E'\x1e', E'\x1d'))[2:],
                (string_to_array($5::text, E'\x1e', E'\x1d'))[2:],
                (string_to_array($6::text, E'\x1e', E'\x1d'))[2:],
                (string_to_array($7::text, E'\x1e', E'\x1d'))[2:],
                (string_to_array($8::text, E'\x1e', E'\x1d'))[2:])
        AS t(phone, name, specialty, region, tags, status, time_zone, attributes)
    LEFT JOIN contacts AS c ON c.phone = t.phone
),
inserted AS (
    INSERT INTO contacts (phone, name, specialty, region, tags, status, time_zone, attributes)
    SELECT i.phone, i.name, i.specialty, i.region,
           COALESCE(string_to_array(i.tags, E'\x1f'), '{}'), COALESCE(i.status, 'active'),
           COALESCE(i.time_zone, 'America/Sao_Paulo'), COALESCE(i.attributes::jsonb, '{}')
    FROM input AS i
    WHERE NOT i.known
    {on_conflict}
    RETURNING 1
),
updated AS (
    UPDATE contacts AS c SET
        name = COALESCE(i.name, c.name),
        specialty = COALESCE(i.specialty, c.specialty),
        region = COALESCE(i.region, c.region),
        tags = COALESCE(string_to_array(i.tags, E'\x1f'), c.tags),
        status = COALESCE(i.status, c.status),
        time_zone = COALESCE(i.time_zone, c.time_zone),
        attributes = c.attributes || COALESCE(i.attributes::jsonb, '{}'),
        updated_at = now()
    FROM input AS i
    WHERE i.known AND c.phone = i.phone
      AND (COALESCE(i.name, c.name), COALESCE(i.specialty, c.specialty),
           COALESCE(i.region, c.region), COALESCE(string_to_array(i.tags, E'\x1f'), c.tags),
           COALESCE(i.status, c.status), COALESCE(i.time_zone, c.time_zone),
           c.attributes || COALESCE(i.attributes::jsonb, '{}'))
          IS DISTINCT FROM
          (c.name, c.specialty, c.region, c.tags, c.status, c.time_zone, c.attributes)
    RETURNING 1
)
SELECT (SELECT count(*) FROM inserted) AS inserted, (SELECT count(*) FROM updated) AS updated;

-- name: vacuum_contacts
-- After a large import: set the visibility map (index-only segment counts) and the statistics.
-- Without ownership of the table Postgres skips it with a warning, never an error.
VACUUM (ANALYZE) contacts;
