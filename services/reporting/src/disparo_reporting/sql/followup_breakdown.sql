-- A campaign's follow-up breakdown, read inside the report's snapshot. A doctor is a phone the
-- campaign wrote to; "answered after" is the message (original or follow-up n) that the
-- doctor's first reply to this campaign is attributed to (the latest one sent before it).

-- name: followup_attempts
-- Per follow-up attempt of campaign $1: requested, sent, cancelled, failed for good, and the
-- doctors whose first reply came after it.
WITH first_reply AS (
    SELECT DISTINCT ON (a.phone) a.phone, a.followup_attempt
    FROM messages a JOIN replies r ON r.message_id = a.message_id
    WHERE a.campaign_id = $1::uuid
    ORDER BY a.phone, r.at
)
SELECT m.followup_attempt AS attempt,
       count(*) AS requested,
       count(m.sent_at) AS sent,
       count(*) FILTER (WHERE m.state = 'cancelled') AS cancelled,
       count(*) FILTER (WHERE m.dead) AS failed,
       (SELECT count(*) FROM first_reply f WHERE f.followup_attempt = m.followup_attempt)
           AS answered_after
FROM messages m
WHERE m.campaign_id = $1::uuid AND m.followup_attempt IS NOT NULL
GROUP BY m.followup_attempt
ORDER BY m.followup_attempt;

-- name: answered_after
-- Doctors of campaign $1 by the message their first reply came after (0: the original).
SELECT coalesce(followup_attempt, 0) AS attempt, count(*) AS doctors
FROM (
    SELECT DISTINCT ON (a.phone) a.phone, a.followup_attempt
    FROM messages a JOIN replies r ON r.message_id = a.message_id
    WHERE a.campaign_id = $1::uuid
    ORDER BY a.phone, r.at
) first_reply
GROUP BY 1
ORDER BY 1;

-- name: followups_cancelled
-- Follow-ups of campaign $1 the dispatcher dropped from its queue, by reason (replied,
-- opted_out, taken_over, closed).
SELECT h.detail AS reason, count(DISTINCT m.message_id) AS followups
FROM messages m
JOIN message_history h ON h.message_id = m.message_id AND h.status = 'cancelled'
WHERE m.campaign_id = $1::uuid AND m.followup_attempt IS NOT NULL
GROUP BY 1
ORDER BY 1;

-- name: followups_stopped
-- Doctors campaign $1 reached, by what stopped their follow-ups: an opt-out after the campaign
-- wrote (by word or reported by the provider, 131050) first, as it is the doctor's last word;
-- else the earliest of a reply, a person taking the conversation over, or its closing; else
-- nothing ('not_stopped': still in the cadence, or the plan ran its course). An opt-out by
-- reply bears the provider's stamp, in whole seconds: one in the first send's second is after it.
WITH doctors AS (
    SELECT m.phone, min(m.sent_at) AS first_sent_at,
           (array_agg(m.conversation_id) FILTER (WHERE m.conversation_id IS NOT NULL))[1]
               AS conversation_id,
           bool_or(m.last_error_code = '131050') AS provider_opt_out
    FROM messages m
    WHERE m.campaign_id = $1::uuid AND m.phone IS NOT NULL
    GROUP BY m.phone
    HAVING min(m.sent_at) IS NOT NULL OR bool_or(m.last_error_code = '131050')
), first_reply AS (
    SELECT a.phone, min(r.at) AS at
    FROM messages a JOIN replies r ON r.message_id = a.message_id
    WHERE a.campaign_id = $1::uuid
    GROUP BY a.phone
), stopped AS (
    SELECT CASE
               WHEN d.provider_opt_out
                    OR (c.opted_out AND c.changed_at >= date_trunc('second', d.first_sent_at))
                   THEN 'opted_out'
               ELSE (SELECT v.reason
                     FROM (VALUES ('replied', fr.at), ('taken_over', cc.taken_over_at),
                                  ('closed', cc.closed_at)) AS v (reason, at)
                     WHERE v.at IS NOT NULL
                     ORDER BY v.at
                     LIMIT 1)
           END AS reason
    FROM doctors d
    LEFT JOIN consent c ON c.phone = d.phone
    LEFT JOIN first_reply fr ON fr.phone = d.phone
    LEFT JOIN conversation_controls cc ON cc.conversation_id = d.conversation_id
)
SELECT coalesce(reason, 'not_stopped') AS reason, count(*) AS doctors
FROM stopped
GROUP BY 1;

-- name: opted_out_after
-- Doctors of campaign $1 who opted out after it wrote to them, by the message their opt-out
-- came after (0: the original): the latest one sent before it, or the one the provider refused
-- with 131050 (the doctor stopped the business's messages) when no opt-out is recorded. An
-- opt-out by reply bears the provider's stamp, in whole seconds: one in the same second as a
-- send came after it.
WITH by_word AS (
    SELECT DISTINCT ON (m.phone) m.phone, coalesce(m.followup_attempt, 0) AS attempt
    FROM messages m
    JOIN consent c ON c.phone = m.phone AND c.opted_out
                  AND c.changed_at >= date_trunc('second', m.sent_at)
    WHERE m.campaign_id = $1::uuid AND m.sent_at IS NOT NULL
    ORDER BY m.phone, m.sent_at DESC
), by_provider AS (
    SELECT DISTINCT ON (m.phone) m.phone, coalesce(m.followup_attempt, 0) AS attempt
    FROM messages m
    WHERE m.campaign_id = $1::uuid AND m.last_error_code = '131050'
      AND NOT EXISTS (SELECT 1 FROM by_word w WHERE w.phone = m.phone)
    ORDER BY m.phone, coalesce(m.followup_attempt, 0)
)
SELECT attempt, count(*) AS doctors
FROM (SELECT attempt FROM by_word UNION ALL SELECT attempt FROM by_provider) opted
GROUP BY 1
ORDER BY 1;
