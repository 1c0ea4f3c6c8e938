-- What a new contact costs to insert. The bulk import writes a million doctors at a time; each
-- row's cost is mostly index maintenance and the WAL it writes, and both are cut here.

-- Time-ordered ids (the layout of UUIDv7: 48 bits of Unix milliseconds, the version, then
-- random bits). A random id put each insert on a random leaf of the primary key; after every
-- checkpoint the first change to each leaf writes the whole page to the WAL, and on a busy
-- server checkpoints come often. One import batch of 5,000 new doctors into 300,000, each
-- after a checkpoint: 0.70 full-page images and 5.8 kB of WAL a row before, 0.21 and 3.1 kB
-- after (EXPLAIN (ANALYZE, WAL)). Ids stay unguessable (70 random bits) and now sort by creation.
-- One expression (no FROM), so the planner inlines it into the INSERT instead of calling a
-- function per row: bytes 0-5 the milliseconds, byte 6 the version (0x70), the rest random.
CREATE FUNCTION uuid_time_ordered() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    SELECT encode(
        overlay(uuid_send(gen_random_uuid())
                PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint)
                                  FROM 3) || '\x70'::bytea
                FROM 1 FOR 7),
        'hex')::uuid
$$;
ALTER TABLE contacts ALTER COLUMN id SET DEFAULT uuid_time_ordered();

-- Last contact, inbound and outbound are empty for a doctor nobody has written to yet, which is
-- every imported one: the indexes keep only the doctors who have them. Every filter on these
-- columns (before, after: a strict comparison; exists: IS NOT NULL) implies NOT NULL, so the
-- planner can still use them; "never contacted" (IS NULL) is most of the table and was never
-- read through them. Three fewer index entries per new row (14 WAL records a row → 11).
DROP INDEX contacts_last_contact_at, contacts_last_inbound_at, contacts_last_outbound_at;
CREATE INDEX contacts_last_contact_at ON contacts (last_contact_at)
    WHERE last_contact_at IS NOT NULL;
CREATE INDEX contacts_last_inbound_at ON contacts (last_inbound_at)
    WHERE last_inbound_at IS NOT NULL;
CREATE INDEX contacts_last_outbound_at ON contacts (last_outbound_at)
    WHERE last_outbound_at IS NOT NULL;

-- Migration 240's contacts_opted_out is the same index as 001's contacts_opted_out_at.
DROP INDEX contacts_opted_out;
