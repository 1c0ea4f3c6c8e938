-- The daily job: select due conversations and request their follow-ups, set-based.

-- name: request_due_followups
-- Records the next follow-up of up to $7 due conversations (rules as parallel arrays of rule
-- set, version, stage, delay and cap; $1 is now) and returns what to send. A conversation
-- follows its own rule set, else its campaign's plan (campaign_plans), else 'padrao'. The (conversation, stage, n) key and the "previous
-- follow-up not sent yet" test make a second run request nothing new.
WITH rules AS (
    SELECT *
    FROM unnest($2::text[], $3::int[], $4::text[], $5::interval[], $6::int[])
         AS r (rule_set, rule_version, stage, delay, max_followups)
),
due AS (
    SELECT c.conversation_id, c.contact_id, c.phone, c.contact_name, c.stage, c.campaign_id,
           r.rule_set, r.rule_version, f.sent + 1 AS n,
           -- time-ordered (UUIDv7 layout: $1 in Unix ms, version 7, random bits; as
           -- disparo_shared.time_ordered_ids): the dispatcher's and reporting's tables keyed by
           -- message id take new rows on their rightmost leaves, not a random one each
           encode(overlay(uuid_send(gen_random_uuid())
                          PLACING substring(int8send(floor(extract(epoch FROM $1::timestamptz)
                                                           * 1000)::bigint) FROM 3)
                                  || '\x70'::bytea
                          FROM 1 FOR 7), 'hex')::uuid AS message_id
    FROM conversations c
    LEFT JOIN campaign_plans cp ON cp.campaign_id = c.campaign_id
    JOIN rules r ON r.rule_set = coalesce(c.rule_set, cp.rule_set_key, 'padrao')
                AND r.stage = c.stage
    LEFT JOIN phones p ON p.phone = c.phone
    CROSS JOIN LATERAL (
        SELECT count(*) AS sent, max(requested_at) AS last_requested_at
        FROM followups f
        WHERE f.conversation_id = c.conversation_id AND f.stage = c.stage
    ) f
    WHERE c.controlled_by = 'automation'
      AND c.phone IS NOT NULL
      AND c.last_outbound_at IS NOT NULL
      AND c.last_outbound_at <= $1::timestamptz - r.delay
      AND (p.last_inbound_at IS NULL OR p.last_inbound_at < c.last_outbound_at)
      AND NOT coalesce(p.opted_out, false)
      AND f.sent < r.max_followups
      AND (f.last_requested_at IS NULL OR f.last_requested_at <= c.last_outbound_at)
    ORDER BY c.last_outbound_at, c.conversation_id
    LIMIT $7::int
),
inserted AS (
    INSERT INTO followups (conversation_id, stage, n, message_id, requested_at, rule_set,
                           rule_version)
    SELECT conversation_id, stage, n, message_id, $1::timestamptz, rule_set, rule_version
    FROM due
    ON CONFLICT DO NOTHING
    RETURNING conversation_id, stage, n, message_id
)
SELECT i.conversation_id, i.stage, i.n, i.message_id, d.contact_id, d.phone, d.contact_name,
       d.campaign_id, d.rule_set
FROM inserted i
JOIN due d USING (conversation_id);

-- name: followup_outlook
-- Before a run: per rule, how many conversations it covers are not due, and why (NULL: due).
-- The reasons are checked in the order of rules.due_followup, so each counts once.
WITH rules AS (
    SELECT *
    FROM unnest($2::text[], $3::text[], $4::interval[], $5::int[])
         AS r (rule_set, stage, delay, max_followups)
)
SELECT r.rule_set, r.stage,
       CASE WHEN c.controlled_by IS DISTINCT FROM 'automation' THEN 'taken_over'
            WHEN coalesce(p.opted_out, false) THEN 'opted_out'
            WHEN c.phone IS NULL THEN 'no_phone'
            WHEN c.last_outbound_at IS NULL THEN 'never_written'
            WHEN p.last_inbound_at >= c.last_outbound_at THEN 'replied'
            WHEN f.last_requested_at > c.last_outbound_at THEN 'previous_not_sent_yet'
            WHEN f.sent >= r.max_followups THEN 'max_reached'
            WHEN c.last_outbound_at > $1::timestamptz - r.delay THEN 'waiting_for_delay'
       END AS reason,
       count(*) AS conversations
FROM conversations c
LEFT JOIN campaign_plans cp ON cp.campaign_id = c.campaign_id
JOIN rules r ON r.rule_set = coalesce(c.rule_set, cp.rule_set_key, 'padrao') AND r.stage = c.stage
LEFT JOIN phones p ON p.phone = c.phone
CROSS JOIN LATERAL (
    SELECT count(*) AS sent, max(requested_at) AS last_requested_at
    FROM followups f
    WHERE f.conversation_id = c.conversation_id AND f.stage = c.stage
) f
GROUP BY 1, 2, 3;

-- name: claim_slot
-- Claims one daily slot for this replica; NULL when another run already took it.
INSERT INTO job_runs (slot, started_at) VALUES ($1::timestamptz, $2::timestamptz)
ON CONFLICT DO NOTHING
RETURNING slot;

-- name: finish_slot
-- Records how many follow-ups the slot's run requested.
UPDATE job_runs SET requested = $2::int WHERE slot = $1::timestamptz;

-- name: last_successful_run
-- When the latest daily slot that finished started (NULL before the first one).
SELECT max(started_at) FROM job_runs WHERE requested IS NOT NULL;
