-- Campaigns' own follow-up plans.

-- name: record_campaign_plan
-- The plan a campaign started with; a campaign starts once, so the first fact stays.
INSERT INTO campaign_plans (campaign_id, mode, rule_set_key, plan, started_at)
VALUES ($1::uuid, $2::text, $3::text, $4::jsonb, $5::timestamptz)
ON CONFLICT (campaign_id) DO NOTHING;

-- name: own_plans
-- Plans that make a rule set of their own (own and none), for the job and the API.
SELECT campaign_id, rule_set_key, plan FROM campaign_plans WHERE mode IN ('own', 'none');

-- name: rule_set_key_of
-- The rule set a conversation follows: its own, its campaign's plan, else the default.
SELECT coalesce(c.rule_set, cp.rule_set_key, 'padrao')
FROM conversations c
LEFT JOIN campaign_plans cp ON cp.campaign_id = c.campaign_id
WHERE c.conversation_id = $1::uuid;

-- name: named_plan_sets
-- The rule sets campaigns' plans name (to tell the ones no set has).
SELECT DISTINCT rule_set_key FROM campaign_plans WHERE mode = 'rule_set';
