-- What the recruiters' reports need beyond the funnel: who each message went to (from the
-- campaign's recipient snapshot on messages.requested), the first words of each reply, and
-- when a campaign was created (the overview's period).

ALTER TABLE messages
    ADD COLUMN contact_name text,
    ADD COLUMN specialty    text,
    ADD COLUMN region       text;

-- A reply's first words (at most 80 characters, cut at a word), never the whole body: enough for
-- a recruiter to tell "Sim, tenho interesse" from "PARAR" in the top responders.
ALTER TABLE replies ADD COLUMN preview text;

ALTER TABLE campaigns ADD COLUMN created_at timestamptz;

-- The overview reads campaigns of a period by when they started (or were created).
CREATE INDEX campaigns_period ON campaigns ((coalesce(started_at, created_at)));
