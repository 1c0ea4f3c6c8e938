-- last_contact_at now means our last message or theirs (the spec's ultimo_contato_em); each
-- direction is kept too, for segments such as "wrote to us in the last week" or "not written to
-- for a month". message.received moves last_inbound_at, message.sent last_outbound_at, and both
-- move last_contact_at.
ALTER TABLE contacts ADD COLUMN last_inbound_at timestamptz, ADD COLUMN last_outbound_at timestamptz;

-- Until now only replies moved last_contact_at: what it holds is the last inbound message.
-- (Outbound history is not rebuilt: sends before this migration are not attributed.)
UPDATE contacts SET last_inbound_at = last_contact_at WHERE last_contact_at IS NOT NULL;

CREATE INDEX contacts_last_inbound_at ON contacts (last_inbound_at);
CREATE INDEX contacts_last_outbound_at ON contacts (last_outbound_at);
