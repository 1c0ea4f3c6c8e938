-- The benchmark reads the dispatcher's own tables (schema "dispatcher") to see the queue's side.
-- Finished messages may have moved to the archive: counts read `all_messages` (both tables).

-- name: messages_inserted
-- Rows ever inserted into the queue table, from the statistics collector: free to read, at
-- most a second late. The benchmark follows the intake with it between full counts.
SELECT coalesce(sum(n_tup_ins), 0)::bigint
FROM pg_stat_user_tables
WHERE schemaname = current_schema() AND relname = 'messages';

-- name: queue_progress
-- How many messages the queue holds, and how many are not yet finished (sent, dead, cancelled).
SELECT count(*)::bigint AS total,
       count(*) FILTER (WHERE state NOT IN ('sent', 'dead', 'cancelled'))::bigint AS pending,
       count(*) FILTER (WHERE state = 'sent')::bigint AS sent,
       count(*) FILTER (WHERE state = 'dead')::bigint AS dead
FROM all_messages;

-- name: message_states
-- Every message's final state, attempts and last error code, for the per-message verdict.
SELECT message_id::text AS message_id, state, attempt, last_error_code
FROM all_messages;

-- name: dead_reasons
-- Dead messages grouped by their last error code, each with one example of its error text.
SELECT coalesce(last_error_code, 'none') AS code, count(*)::bigint AS messages,
       min(last_error) AS example
FROM all_messages
WHERE state = 'dead'
GROUP BY 1
ORDER BY 2 DESC;

-- name: retried_and_sent
-- Messages sent after more than one provider call, and the extra calls they took.
SELECT count(*)::bigint AS messages, coalesce(sum(attempt - 1), 0)::bigint AS extra_attempts
FROM all_messages
WHERE state = 'sent' AND attempt > 1;

-- name: urgent_enqueued_at
-- When each priority-10 message entered the queue (unix seconds), to split its latency in two.
SELECT message_id::text AS message_id, extract(epoch FROM enqueued_at)::float8 AS enqueued_at
FROM all_messages
WHERE priority = 10;

-- name: queue_tables
-- At the end of a run: rows and bytes (indexes included) of the hot queue table and of the
-- archive of finished messages (none before migration 270), and how many hot rows are finished.
SELECT (SELECT count(*) FROM messages)::bigint AS hot_rows,
       (SELECT count(*) FROM messages WHERE state IN ('sent', 'dead', 'cancelled'))::bigint
           AS hot_finished_rows,
       pg_total_relation_size('messages')::bigint AS hot_bytes,
       (SELECT count(*) FROM all_messages)::bigint - (SELECT count(*) FROM messages)::bigint
           AS archive_rows,
       coalesce(pg_total_relation_size(to_regclass('messages_archive')), 0)::bigint AS archive_bytes;

-- name: sender_holders
-- Which replica holds each sender's lease right now (the run's connection has no other clock).
SELECT lease_owner AS replica, count(*)::bigint AS senders
FROM senders
WHERE lease_owner IS NOT NULL AND lease_until > now()
GROUP BY lease_owner;
