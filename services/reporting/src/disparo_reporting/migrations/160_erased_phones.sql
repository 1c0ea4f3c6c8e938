-- Phones of erased doctors (LGPD), as SHA-256 digests only: a rebuild replays streams that
-- may still hold their events, and the replay's result is blanked again against this list.
-- ``pseudonym`` (random, "erased:<uuid>") stands in for the phone in the doctor's rows, so
-- per-doctor counts (replied, top responders) still group them without saying who.
-- Not a projection: a rebuild keeps it.
CREATE TABLE erased_phones (
    phone_sha256  bytea       PRIMARY KEY,
    pseudonym     text        NOT NULL,
    erased_at     timestamptz NOT NULL
);
