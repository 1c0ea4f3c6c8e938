-- The benchmark reads reporting's own tables (schema "reporting") to see how far it trails.

-- name: reporting_progress
-- Sends reporting shows as sent, and events it has projected (rows its inbox ever took, from
-- the statistics collector: free to read, at most a second late).
SELECT (SELECT count(*) FROM reporting.messages WHERE sent_at IS NOT NULL)::bigint
           AS projected_sent,
       (SELECT coalesce(sum(n_tup_ins), 0) FROM pg_stat_user_tables
        WHERE schemaname = 'reporting' AND relname = 'inbox')::bigint AS events;
