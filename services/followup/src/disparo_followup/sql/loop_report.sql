-- The recruiting loop in numbers, per campaign (or all conversations when $1 is NULL).

-- name: loop_counts
-- Conversations, replies (and after how many follow-ups sent the first reply came), opt-outs,
-- takeovers, and follow-ups requested, sent and cancelled.
WITH convs AS (
    SELECT c.conversation_id, c.phone, c.opened_at
    FROM conversations c
    WHERE ($1::uuid IS NULL OR c.campaign_id = $1::uuid)
),
first_reply AS (
    SELECT m.conversation_id, min(m.at) AS at
    FROM conversation_messages m
    JOIN convs USING (conversation_id)
    WHERE m.direction = 'in'
    GROUP BY m.conversation_id
),
replied_after AS (
    SELECT r.conversation_id,
           (SELECT count(*) FROM followups f
             WHERE f.conversation_id = r.conversation_id AND f.sent_at < r.at) AS followups_before
    FROM first_reply r
)
SELECT
    (SELECT count(*) FROM convs) AS conversations,
    (SELECT count(*) FROM first_reply) AS replied,
    (SELECT coalesce(jsonb_object_agg(followups_before, n), '{}'::jsonb)
       FROM (SELECT followups_before, count(*) AS n FROM replied_after GROUP BY 1) x)
        AS replied_after_followups,
    (SELECT count(*) FROM convs JOIN phones p ON p.phone = convs.phone WHERE p.opted_out)
        AS opted_out,
    (SELECT count(DISTINCT h.conversation_id) FROM conversation_changes h
       JOIN convs USING (conversation_id) WHERE h.controller_after = 'human') AS taken_over,
    (SELECT count(*) FROM followups f JOIN convs USING (conversation_id)) AS followups_requested,
    (SELECT count(*) FROM followups f JOIN convs USING (conversation_id)
      WHERE f.sent_at IS NOT NULL) AS followups_sent,
    (SELECT coalesce(jsonb_object_agg(cancelled_reason, n), '{}'::jsonb)
       FROM (SELECT f.cancelled_reason, count(*) AS n FROM followups f
             JOIN convs USING (conversation_id)
             WHERE f.cancelled_reason IS NOT NULL GROUP BY 1) x) AS followups_cancelled;

-- name: reply_rate_by_attempt
-- Per rule (rule set, stage) and attempt: follow-ups sent, and how many were the last thing we
-- sent before the doctor's first reply.
WITH convs AS (
    SELECT c.conversation_id FROM conversations c
    WHERE ($1::uuid IS NULL OR c.campaign_id = $1::uuid)
),
first_reply AS (
    SELECT m.conversation_id, min(m.at) AS at
    FROM conversation_messages m JOIN convs USING (conversation_id)
    WHERE m.direction = 'in'
    GROUP BY m.conversation_id
),
sent AS (
    SELECT f.conversation_id, coalesce(f.rule_set, 'padrao') AS rule_set, f.stage, f.n,
           f.sent_at,
           lead(f.sent_at) OVER (PARTITION BY f.conversation_id ORDER BY f.sent_at) AS next_sent_at
    FROM followups f JOIN convs USING (conversation_id)
    WHERE f.sent_at IS NOT NULL
)
SELECT s.rule_set, s.stage, s.n AS attempt, count(*) AS sent,
       count(*) FILTER (WHERE r.at > s.sent_at
                          AND (s.next_sent_at IS NULL OR r.at < s.next_sent_at)) AS replied_after
FROM sent s
LEFT JOIN first_reply r USING (conversation_id)
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3;
