-- Finished messages leave the hot table. `messages` keeps what is not finished (queued, held,
-- sending, in doubt) and what finished less than `archive_after_seconds` ago; the archiver
-- (archive.py) moves older sent, dead and cancelled rows into `messages_archive` in batches and
-- retention deletes them from there. A 10,000,000-message day then leaves a minute of finished
-- rows in the claim's table, not ten million.

-- Every idempotency key ever enqueued, while its message is kept anywhere. The intake inserts
-- here first (ON CONFLICT DO NOTHING), so a key is taken once whichever table its message is in,
-- and whenever the archiver moves it: a check against the archive could miss a row being moved
-- and let the same message in twice. Narrow and written once a message, so `messages` no longer
-- needs its UNIQUE (idempotency_key): every state change of a message rewrote that index too (its
-- updates are never HOT: `state` is in the partial indexes' predicates).
CREATE TABLE message_keys (
    idempotency_key text PRIMARY KEY,
    message_id      uuid NOT NULL
);
INSERT INTO message_keys (idempotency_key, message_id)
SELECT idempotency_key, message_id FROM messages;
ALTER TABLE messages DROP CONSTRAINT messages_idempotency_key_key;

-- A finished message always says when it finished (every statement that ends one sets it); rows
-- written before that rule, if any, take their send or enqueue time so the archiver sees them.
UPDATE messages SET finished_at = coalesce(sent_at, enqueued_at)
WHERE state IN ('sent', 'dead', 'cancelled') AND finished_at IS NULL;

-- The archiver walks finished rows oldest first. It replaces the index of sent rows by sender:
-- today's count per sender reads the few finished rows left here through this one.
CREATE INDEX messages_finished ON messages (finished_at) WHERE state IN ('sent', 'dead', 'cancelled');
DROP INDEX messages_sent_by_sender;

-- The same columns in the same order (the archiver moves rows with `INSERT … SELECT *`): a
-- column added to `messages` must be added here too, and to `all_messages`.
CREATE TABLE messages_archive (LIKE messages INCLUDING DEFAULTS);
ALTER TABLE messages_archive ADD PRIMARY KEY (message_id);
-- Provider statuses (delivered, read) name the provider's id and arrive after the move.
CREATE INDEX messages_archive_provider_message_id ON messages_archive (provider_message_id)
    WHERE provider_message_id IS NOT NULL;
-- Erasure and the LGPD export find a doctor's messages by phone or contact id.
CREATE INDEX messages_archive_phone ON messages_archive (phone);
CREATE INDEX messages_archive_contact ON messages_archive (contact_id) WHERE contact_id IS NOT NULL;
-- Today's count per sender when a replica takes a sender over.
CREATE INDEX messages_archive_sent_by_sender ON messages_archive (sender_id, sent_at)
    WHERE state = 'sent';
-- Dead letters: re-queued one by one or per campaign, counted by the gauges.
CREATE INDEX messages_archive_dead ON messages_archive (campaign_id) WHERE state = 'dead';
-- LGPD retention blanks sent and cancelled messages past `message_retention_days`: only those
-- not blanked yet are in this index, so a pass never walks what it already did.
CREATE INDEX messages_archive_to_blank ON messages_archive (finished_at)
    WHERE state IN ('sent', 'cancelled') AND body <> '';
-- Rows arrive in the order they finished: a block range index finds the oldest for pruning at
-- almost no cost per insert.
CREATE INDEX messages_archive_finished ON messages_archive USING brin (finished_at);

-- Every message wherever it is, for the readers of finished ones (statuses, lookups, counts).
-- One statement sees one snapshot, and a move is one transaction: a row shows exactly once.
CREATE VIEW all_messages AS
SELECT * FROM messages
UNION ALL
SELECT * FROM messages_archive;
