-- Keeping the queue's hot tables vacuumed and analysed when nobody else does (table_care.py).

-- name: table_churn
-- Rows live, dead and changed since the last analyse of each hot table, and when autovacuum
-- (or anyone) last vacuumed and analysed it; from the cumulative statistics, no table scan.
SELECT relname AS table_name, n_live_tup AS live, n_dead_tup AS dead,
       n_mod_since_analyze AS changed_since_analyze,
       greatest(last_vacuum, last_autovacuum) AS vacuumed_at,
       greatest(last_analyze, last_autoanalyze) AS analysed_at
FROM pg_stat_user_tables
WHERE schemaname = current_schema() AND relname = ANY($1::text[]);

-- name: try_care_lock
-- One replica tends a set of tables ($1: 'hot', 'archive') at a time; the others skip their turn.
SELECT pg_try_advisory_lock(hashtextextended(
    'disparo.dispatcher.table_care.' || current_schema()
    || CASE WHEN $1::text = 'hot' THEN '' ELSE '.' || $1::text END, 0));

-- name: release_care_lock
-- Give the turn back.
SELECT pg_advisory_unlock(hashtextextended(
    'disparo.dispatcher.table_care.' || current_schema()
    || CASE WHEN $1::text = 'hot' THEN '' ELSE '.' || $1::text END, 0));
