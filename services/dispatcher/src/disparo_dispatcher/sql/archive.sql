-- Finished messages out of the hot table, and out of the archive past retention (archive.py).

-- name: try_archive_turn
-- The archiver's turn for one batch: one replica moves at a time, and never while an erasure or
-- a dead-letter re-queue (``wait_archive_turn``) is changing finished rows. Released at commit.
SELECT pg_try_advisory_xact_lock(hashtextextended('disparo.dispatcher.archive.' || current_schema(), 0));

-- name: wait_archive_turn
-- For statements that change finished rows in both tables: wait for a batch being moved to
-- commit, then hold moves off until this transaction ends. Several may hold it at once. Without
-- it, an UPDATE of the hot table that waited on a row the archiver was moving would find it gone
-- and miss it in the archive (its snapshot predates the move).
SELECT pg_advisory_xact_lock_shared(hashtextextended('disparo.dispatcher.archive.' || current_schema(), 0));

-- name: archive_finished
-- Move up to $2 sent, dead and cancelled messages that finished before $1 into the archive,
-- oldest first, in one statement. Rows locked by anyone are left for the next batch.
WITH moved AS (
    DELETE FROM messages m
    WHERE m.ctid = ANY (ARRAY(
        SELECT f.ctid FROM messages f
        WHERE f.state IN ('sent', 'dead', 'cancelled') AND f.finished_at < $1::timestamptz
        ORDER BY f.finished_at
        LIMIT $2::int
        FOR UPDATE SKIP LOCKED
    ))
    RETURNING m.*
)
INSERT INTO messages_archive SELECT * FROM moved;

-- name: prune_archive
-- Delete up to $2 archived messages that finished before $1, and their idempotency keys with
-- them; returns how many messages went.
WITH gone AS (
    DELETE FROM messages_archive a
    WHERE a.ctid = ANY (ARRAY(
        SELECT o.ctid FROM messages_archive o WHERE o.finished_at < $1::timestamptz LIMIT $2::int
    ))
    RETURNING a.idempotency_key, a.message_id
), keys AS (
    DELETE FROM message_keys k USING gone
    WHERE k.idempotency_key = gone.idempotency_key AND k.message_id = gone.message_id
)
SELECT count(*)::int FROM gone;
