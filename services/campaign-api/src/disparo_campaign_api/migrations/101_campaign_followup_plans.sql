-- A campaign's own follow-up plan (disparo_shared.followup_plans), checked at create or edit and
-- carried on campaign.started to followup. NULL: the default rule set.
ALTER TABLE campaigns ADD COLUMN followups jsonb;
