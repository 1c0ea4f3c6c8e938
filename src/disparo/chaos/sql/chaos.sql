-- The chaos run reads each service's own tables (schema-qualified: one connection reads all).

-- name: queue
-- Every message the dispatcher holds: what it is, for whom, and what became of it.
SELECT message_id::text AS message_id, kind, campaign_id::text AS campaign_id, phone, state,
       (state = 'in_doubt' AND in_doubt_held_at IS NOT NULL) AS held_in_doubt
FROM dispatcher.all_messages;  -- archived ones too (archive.py)

-- name: sending_by
-- Messages a replica holds in flight right now (claimed, maybe already with the provider).
SELECT count(*)::bigint FROM dispatcher.messages WHERE state = 'sending' AND lease_owner = $1::text;

-- name: campaign_fanout
-- How far campaign-api's fan-out of one campaign has gone: recipients handed to the outbox.
SELECT fanout_cursor::bigint AS cursor, coalesce(audience_size, 0)::bigint AS audience,
       fanout_done_at IS NOT NULL AS done
FROM campaign_api.campaigns WHERE id = $1::uuid;

-- name: unfinished_fanouts
-- Started campaigns whose fan-out has not reached its last recipient.
SELECT count(*)::bigint FROM campaign_api.campaigns
WHERE started_at IS NOT NULL AND fanout_done_at IS NULL AND state <> 'cancelled';

-- name: outbox_left
-- Events written but not yet published, over every service's outbox.
SELECT (SELECT count(*) FROM campaign_api.outbox) + (SELECT count(*) FROM dispatcher.outbox)
     + (SELECT count(*) FROM followup.outbox) + (SELECT count(*) FROM reporting.outbox)
       AS left_over;

-- name: outbox_dead
-- Events an outbox gave up on (too large for NATS), over every service.
SELECT (SELECT count(*) FROM campaign_api.outbox_dead) + (SELECT count(*) FROM dispatcher.outbox_dead)
     + (SELECT count(*) FROM followup.outbox_dead) + (SELECT count(*) FROM reporting.outbox_dead)
       AS dead;

-- name: followups_requested
-- Follow-ups the dispatcher has been asked for so far.
SELECT count(*)::bigint FROM dispatcher.all_messages WHERE kind = 'followup';

-- name: terminate_run_connections
-- Drop every connection to the run's database but this one (a connection storm's blow).
SELECT count(pg_terminate_backend(pid))::bigint
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid();

-- name: reply_attribution
-- What reporting attributed the given doctors' replies to: a message of which kind, of this
-- campaign or not, or nothing (when a campaign's "replied" differs from the doctors who wrote).
SELECT coalesce(m.kind, 'nothing') AS attributed_to,
       coalesce(m.campaign_id = $1::uuid, false) AS this_campaign, count(*)::bigint AS replies
FROM reporting.replies r
LEFT JOIN reporting.messages m ON m.message_id = r.message_id
WHERE r.phone = ANY($2::text[])
GROUP BY 1, 2
ORDER BY 1, 2;

-- name: resent_by_policy
-- Messages the at-least-once policy sent again after a doubt nothing could settle.
SELECT DISTINCT message_id::text AS message_id
FROM dispatcher.in_doubt_settlements WHERE outcome = 'resent';

-- name: in_doubt_settled
-- How every doubt of the run was settled: by the provider's word (echoed, found, absent), by a
-- policy (held at most once, resent at least once), or by a person (requeued).
SELECT outcome, kind, count(*)::bigint AS messages
FROM dispatcher.in_doubt_settlements
GROUP BY outcome, kind
ORDER BY outcome, kind;
