-- Each campaign's own follow-up plan, from campaign.started (disparo_shared.followup_plans).
-- ``rule_set_key`` is the rule set its conversations follow: the named set (mode rule_set) or
-- 'campaign:<id>' (own and none: the default set with the plan's first-contact rule, or none).
-- A campaign without a row follows the default set, as before plans existed.
CREATE TABLE campaign_plans (
    campaign_id   uuid        PRIMARY KEY,
    mode          text        NOT NULL CHECK (mode IN ('own', 'rule_set', 'none')),
    rule_set_key  text        NOT NULL,
    plan          jsonb       NOT NULL,
    started_at    timestamptz NOT NULL
);
